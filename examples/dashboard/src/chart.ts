// The chart: net consumption, average power and (on demand) the raw
// registers, drawn with uPlot from min/max-per-pixel downsampled series, so
// that it stays fast at 500,000 points; readings that failed verification
// as red points off the lines; audit findings as marks on the plot and as
// buttons on a timeline strip below it.

import uPlot from "uplot";

import { downsample, type Series } from "./series";

/** An audit finding to mark, at one time or over a span (seconds). */
export interface Marker {
  id: number;
  code: string;
  from: number;
  to: number;
  label: string;
}

const COLORS: Record<string, string> = {
  gap: "#9a6700",
  conflict: "#cf222e",
  duplicate: "#57606a",
  timestamp_backwards: "#8250df",
  register_decreased: "#bc4c00",
  late: "#0550ae",
};

export const FINDING_COLOR = (code: string): string => COLORS[code] ?? "#57606a";

/** Marks closer than this (CSS px) share one timeline button. */
const GROUP_PX = 12;

export class EnergyChart {
  private plot: uPlot | null = null;
  private series: Series | null = null;
  private view: [number, number] | null = null;
  private showRegisters = false;
  private markers: Marker[] = [];
  /** The last draw, for tests and the status line. */
  drawnPoints = 0;
  sourcePoints = 0;
  lastDrawMs = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly timeline: HTMLElement,
    private readonly onMarkers: (ids: number[]) => void,
  ) {
    new ResizeObserver(() => this.resize()).observe(container);
    container.addEventListener("keydown", (e) => this.key(e));
  }

  setSeries(series: Series): void {
    this.series = series;
    if (!this.plot) this.build();
    else this.redraw();
  }

  setMarkers(markers: Marker[]): void {
    this.markers = markers;
    this.plot?.redraw(false);
    this.drawTimeline();
  }

  setShowRegisters(show: boolean): void {
    this.showRegisters = show;
    this.build();
  }

  /** Zooms to [from, to] seconds. */
  zoom(from: number, to: number): void {
    if (!(to > from)) return;
    this.view = [from, to];
    this.redraw();
  }

  reset(): void {
    this.view = null;
    this.redraw();
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
    this.series = null;
    this.view = null;
    this.timeline.replaceChildren();
  }

  /** The full time range of the data, seconds. */
  private extent(): [number, number] | null {
    const t = this.series?.t;
    if (!t || t.length === 0) return null;
    const first = t[0]!;
    const last = t[t.length - 1]!;
    return last > first ? [first, last] : [first - 60, last + 60];
  }

  private width(): number {
    return Math.max(320, this.container.clientWidth || 900);
  }

  private build(): void {
    this.plot?.destroy();
    this.plot = null;
    if (!this.series) return;
    const regAxis: uPlot.Axis[] = this.showRegisters
      ? [{ scale: "reg", side: 3, label: "Registers (Wh)", grid: { show: false }, size: 80 }]
      : [];
    const options: uPlot.Options = {
      width: this.width(),
      height: 340,
      scales: { x: { time: true } },
      axes: [
        {},
        { scale: "Wh", label: "Net consumption (Wh)", size: 70 },
        { scale: "W", side: 1, label: "Average power (W)", grid: { show: false }, size: 70 },
        ...regAxis,
      ],
      series: [
        {},
        { label: "Net consumption (Wh)", scale: "Wh", stroke: "#0969da", width: 1.5, points: { show: false } },
        { label: "Average power (W)", scale: "W", stroke: "#bf8700", width: 1, points: { show: false } },
        { label: "Imported register (Wh)", scale: "reg", stroke: "#8250df", width: 1, points: { show: false }, show: this.showRegisters },
        { label: "Exported register (Wh)", scale: "reg", stroke: "#1a7f37", width: 1, points: { show: false }, show: this.showRegisters },
      ],
      legend: { live: false },
      cursor: {
        // A drag selects a span; setSelect below zooms to it (uPlot's own
        // rescaling would keep the downsampled data of the old view).
        drag: { x: true, y: false, setScale: false },
        bind: {
          dblclick: () => () => {
            this.reset();
            return null;
          },
        },
      },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (width < 2) return;
            const from = u.posToVal(left, "x");
            const to = u.posToVal(left + width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.zoom(from, to);
          },
        ],
        draw: [(u) => this.drawOverlay(u)],
      },
    };
    this.plot = new uPlot(options, [[], [], [], [], []], this.container);
    this.redraw();
  }

  /** Downsamples the visible range for the plot's width and draws it. */
  private redraw(): void {
    const u = this.plot;
    const s = this.series;
    const extent = this.extent();
    if (!u || !s || !extent) {
      this.drawTimeline();
      return;
    }
    const started = performance.now();
    const [from, to] = this.view ?? extent;
    const buckets = Math.max(50, Math.round(u.bbox.width / devicePixelRatio));
    const drawn = downsample(s.t, [s.net, s.power, s.imported, s.exported], from, to, buckets, s.gapThreshold);
    u.setData([drawn.x, ...drawn.ys] as uPlot.AlignedData, false);
    u.setScale("x", { min: from, max: to });
    this.drawnPoints = drawn.x.length;
    this.sourcePoints = drawn.points;
    this.lastDrawMs = performance.now() - started;
    this.container.dataset.drawnPoints = String(this.drawnPoints);
    this.container.dataset.sourcePoints = String(s.t.length);
    this.container.dataset.drawMs = this.lastDrawMs.toFixed(1);
    this.drawTimeline();
  }

  private resize(): void {
    if (!this.plot) return;
    this.plot.setSize({ width: this.width(), height: 340 });
    this.redraw();
  }

  /** Failed readings (red points) and finding marks, over the lines. */
  private drawOverlay(u: uPlot): void {
    const s = this.series;
    if (!s) return;
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    const min = u.scales.x?.min ?? 0;
    const max = u.scales.x?.max ?? 0;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    for (const m of this.markers) {
      if (m.to < min || m.from > max) continue;
      const x0 = u.valToPos(m.from, "x", true);
      const x1 = u.valToPos(m.to, "x", true);
      ctx.fillStyle = FINDING_COLOR(m.code);
      ctx.globalAlpha = 0.25;
      ctx.fillRect(Math.min(x0, x1 - 1), top, Math.max(2, x1 - x0), height);
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#cf222e";
    for (let i = 0; i < s.failedT.length; i++) {
      const t = s.failedT[i]!;
      if (t < min || t > max) continue;
      const x = u.valToPos(t, "x", true);
      // Off the lines on purpose: a failed reading's values are not trusted,
      // so it is marked at the top of the plot, at its claimed time.
      ctx.beginPath();
      ctx.arc(x, top + 8 * devicePixelRatio, 5 * devicePixelRatio, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.restore();
  }

  /** One button per group of nearby marks of one kind, under the plot. */
  private drawTimeline(): void {
    const u = this.plot;
    this.timeline.replaceChildren();
    if (!u || this.markers.length === 0) return;
    const min = u.scales.x?.min ?? 0;
    const max = u.scales.x?.max ?? 0;
    const offset = u.over.offsetLeft;
    const groups = new Map<string, { x: number; ids: number[]; code: string; labels: string[] }>();
    for (const m of this.markers) {
      if (m.to < min || m.from > max) continue;
      const x = u.valToPos(Math.max(min, Math.min(max, (m.from + m.to) / 2)), "x");
      const key = `${m.code}:${Math.round(x / GROUP_PX)}`;
      const g = groups.get(key) ?? { x, ids: [], code: m.code, labels: [] };
      g.ids.push(m.id);
      if (g.labels.length < 3) g.labels.push(m.label);
      groups.set(key, g);
    }
    const buttons = [...groups.values()]
      .sort((a, b) => a.x - b.x)
      .map((g, i) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = `marker marker-${g.code}`;
        b.style.left = `${offset + g.x}px`;
        b.style.borderColor = FINDING_COLOR(g.code);
        b.textContent = g.ids.length > 1 ? `${g.ids.length}` : "";
        const more = g.ids.length > g.labels.length ? ` and ${g.ids.length - g.labels.length} more` : "";
        b.setAttribute("aria-label", `${g.labels.join("; ")}${more}`);
        b.title = b.getAttribute("aria-label") ?? "";
        b.dataset.code = g.code;
        b.dataset.findings = g.ids.join(",");
        // One tab stop for the strip; arrow keys move between marks.
        b.tabIndex = i === 0 ? 0 : -1;
        b.addEventListener("click", () => this.onMarkers(g.ids));
        return b;
      });
    this.timeline.append(...buttons);
  }

  private key(e: KeyboardEvent): void {
    const extent = this.extent();
    if (!extent) return;
    const [from, to] = this.view ?? extent;
    const span = to - from;
    const centre = (from + to) / 2;
    switch (e.key) {
      case "+":
      case "=":
        this.zoom(centre - span / 4, centre + span / 4);
        break;
      case "-":
        this.zoom(centre - span, centre + span);
        break;
      case "ArrowLeft":
        this.zoom(from - span / 4, to - span / 4);
        break;
      case "ArrowRight":
        this.zoom(from + span / 4, to + span / 4);
        break;
      case "0":
      case "Home":
      case "Escape":
        this.reset();
        break;
      default:
        return;
    }
    e.preventDefault();
  }
}

/** Arrow keys move focus along a strip of buttons (a roving tab stop). */
export function rovingFocus(strip: HTMLElement): void {
  strip.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight" && e.key !== "Home" && e.key !== "End") return;
    const buttons = [...strip.querySelectorAll<HTMLButtonElement>("button")];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    const next =
      e.key === "Home" ? 0 : e.key === "End" ? buttons.length - 1 : Math.max(0, Math.min(buttons.length - 1, at + (e.key === "ArrowRight" ? 1 : -1)));
    buttons.forEach((b, i) => (b.tabIndex = i === next ? 0 : -1));
    buttons[next]?.focus();
    e.preventDefault();
  });
}
