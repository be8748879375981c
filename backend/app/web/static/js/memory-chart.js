// The operator's live memory chart, drawn as SVG by hand: PSS of every process of the gunicorn tree
// and their total, the container's cgroup usage, and the limits as horizontal lines (cgroup limit,
// MEMORY_ALERT_MB, GUNICORN_MAX_WORKER_MEMORY_MB). Each sample is one report of /api/monitoring/memory.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 800;
const HEIGHT = 320;
const MARGIN = { top: 16, right: 150, bottom: 28, left: 56 };
const PALETTE = ["#1f6feb", "#d9480f", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#e64980", "#5c940d"];

function node(tag, attributes = {}, text) {
  const item = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) item.setAttribute(name, value);
  if (text !== undefined) item.textContent = text;
  return item;
}

export class MemoryChart {
  constructor(svg, labels, { keep = 90 } = {}) {
    this.svg = svg;
    this.labels = labels;
    this.keep = keep;
    this.samples = [];  // [{time, total, cgroup, processes: {pid: {pss, role}}}]
    this.lines = {};
    this.colors = new Map();
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  }

  add(report, time = Date.now()) {
    const processes = {};
    for (const item of report.gunicorn.processes) {
      processes[item.pid] = { pss: item.pss_mb ?? item.rss_mb, role: item.role };
    }
    const totals = report.gunicorn.totals;
    this.samples.push({
      time,
      total: totals.pss_mb ?? totals.rss_mb,
      cgroup: report.cgroup ? report.cgroup.usage_mb : null,
      processes,
    });
    if (this.samples.length > this.keep) this.samples.shift();
    const thresholds = report.thresholds || {};
    this.lines = {
      limit: report.cgroup ? report.cgroup.limit_mb : null,
      alert: thresholds.memory_alert_mb || null,
      retire: thresholds.max_worker_memory_mb || null,
    };
    this.render();
  }

  color(pid) {
    if (!this.colors.has(pid)) this.colors.set(pid, PALETTE[this.colors.size % PALETTE.length]);
    return this.colors.get(pid);
  }

  render() {
    const svg = this.svg;
    svg.replaceChildren();
    const values = [];
    for (const sample of this.samples) {
      values.push(sample.total, sample.cgroup ?? 0);
      for (const item of Object.values(sample.processes)) values.push(item.pss);
    }
    // The chart keeps the limits in view, up to four times the largest measured value (a cgroup limit
    // of many GB would flatten every line to the bottom).
    const measured = Math.max(1, ...values.filter((v) => v !== null));
    const limits = Object.values(this.lines).filter((v) => v && v <= measured * 4);
    const top = Math.max(measured, ...limits) * 1.1;
    const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
    const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
    const count = Math.max(2, this.samples.length);
    const x = (index) => MARGIN.left + (plotWidth * index) / (count - 1);
    const y = (value) => MARGIN.top + plotHeight * (1 - value / top);

    for (let step = 0; step <= 4; step += 1) {
      const value = (top * step) / 4;
      svg.append(node("line", { x1: MARGIN.left, x2: MARGIN.left + plotWidth, y1: y(value), y2: y(value), class: "grid" }));
      svg.append(node("text", { x: MARGIN.left - 6, y: y(value) + 4, "text-anchor": "end", class: "axis" },
        `${Math.round(value)} MB`));
    }
    for (const [name, value] of Object.entries(this.lines)) {
      if (!value || value > top) continue;
      svg.append(node("line", { x1: MARGIN.left, x2: MARGIN.left + plotWidth, y1: y(value), y2: y(value),
        class: `threshold threshold-${name}`, "data-threshold": name }));
      svg.append(node("text", { x: MARGIN.left + plotWidth + 6, y: y(value) + 4, class: `threshold-label threshold-${name}` },
        `${this.labels[name]} ${Math.round(value)} MB`));
    }
    this.series("total", this.samples.map((s) => s.total), "#111", this.labels.total, x, y);
    if (this.samples.some((s) => s.cgroup !== null)) {
      this.series("cgroup", this.samples.map((s) => s.cgroup), "#868e96", this.labels.cgroup, x, y);
    }
    const pids = new Set(this.samples.flatMap((s) => Object.keys(s.processes)));
    for (const pid of pids) {
      const role = this.samples.findLast((s) => s.processes[pid])?.processes[pid].role;
      this.series(`pid-${pid}`, this.samples.map((s) => s.processes[pid]?.pss ?? null), this.color(pid),
        `${this.labels[role] ?? role} ${pid}`, x, y, { pid, role });
    }
  }

  series(name, data, color, label, x, y, { pid, role } = {}) {
    const group = node("g", { class: `series series-${name}`, "data-series": name, stroke: color, fill: color });
    if (pid) {
      group.dataset.pid = pid;
      group.dataset.role = role;
    }
    const points = [];
    data.forEach((value, index) => {
      if (value === null || value === undefined) return;
      const px = x(index);
      const py = y(value);
      points.push(`${px.toFixed(1)},${py.toFixed(1)}`);
      const dot = node("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 2.5, class: "point" });
      dot.append(node("title", {}, `${label}: ${value} MB`));
      group.append(dot);
    });
    group.prepend(node("polyline", { points: points.join(" "), fill: "none", "stroke-width": name === "total" ? 2.5 : 1.5 }));
    this.svg.append(group);
    this.legend(name, color, label);
  }

  legend(name, color, label) {
    const legend = this.svg.parentElement.querySelector(".chart-legend");
    if (!legend) return;
    if (name === "total") legend.replaceChildren();
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = color;
    item.append(swatch, label);
    legend.append(item);
  }
}
