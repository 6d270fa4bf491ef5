// CPU time of processes from /proc, for the figures that the end-to-end
// test (e2e.mjs) and the benchmark (bench.mjs) record next to wall-clock
// times: on a shared machine the CPU seconds a step took hold where its
// wall time does not.

import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

const TICK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** Every process now: pid -> its parent, command name and CPU seconds (user + system). */
export function processes() {
  const stats = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // The command name is in brackets and may hold spaces: the fields
      // are counted after its closing bracket.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      stats.set(Number(name), { ppid: Number(fields[1]), comm, cpu: (Number(fields[11]) + Number(fields[12])) / TICK });
    } catch {
      // The process ended meanwhile.
    }
  }
  return stats;
}

/** CPU seconds (user + system) of a process and all its descendants. */
export function treeCpu(rootPid) {
  const stats = processes();
  let total = 0;
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.pop();
    total += stats.get(pid)?.cpu ?? 0;
    for (const [child, st] of stats) if (st.ppid === pid) queue.push(child);
  }
  return total;
}
