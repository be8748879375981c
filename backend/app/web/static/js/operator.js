// /operator: poll /api/monitoring/memory every ~2 s, feed the chart, and refresh the worker table, the
// memory-check status and its recommendations. Requests served and uptime are known per worker only when
// that worker answered a poll (each poll lands on one worker): the table keeps the last value seen.
import { MemoryChart } from "./memory-chart.js";
import { element, messages } from "./upload.js";

const POLL_MS = 2000;
const text = messages();
const chart = new MemoryChart(document.getElementById("memory-chart"), text.chart);
const tableBody = document.querySelector("#workers-table tbody");
const seen = new Map();  // pid -> {requests_served, uptime_s, at}

function mb(value) {
  return value === null || value === undefined ? "—" : `${value.toFixed(1)} MB`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

function updateTable(report) {
  const worker = report.worker;
  if (worker) seen.set(worker.pid, { ...worker, at: Date.now() });
  tableBody.replaceChildren();
  for (const item of report.gunicorn.processes) {
    const known = seen.get(item.pid);
    const age = known ? (Date.now() - known.at) / 1000 : 0;
    const row = document.createElement("tr");
    row.dataset.pid = item.pid;
    row.append(element("td", String(item.pid)), element("td", text.chart[item.role] ?? item.role),
      element("td", mb(item.rss_mb), "num"), element("td", mb(item.pss_mb), "num"),
      element("td", known ? String(known.requests_served) : "—", "num"),
      element("td", known ? duration(known.uptime_s + age) : "—", "num"));
    tableBody.append(row);
  }
}

function updateStatus(report) {
  const status = document.getElementById("memory-status");
  status.textContent = text.statuses[report.status] ?? report.status;
  status.className = `badge status-${report.status.toLowerCase()}`;
  status.dataset.status = report.status;
  const list = document.getElementById("recommendations");
  list.replaceChildren(...(report.recommendations.length
    ? report.recommendations.map((advice) => element("li", advice))
    : [element("li", text.no_recommendations)]));
  document.getElementById("measured-at").textContent = new Date(report.measured_at).toLocaleTimeString();
  const total = report.gunicorn.totals;
  document.getElementById("total-pss").textContent = mb(total.pss_mb ?? total.rss_mb);
  const cgroup = report.cgroup;
  document.getElementById("cgroup-usage").textContent = cgroup
    ? `${mb(cgroup.usage_mb)} / ${cgroup.limit_mb ? mb(cgroup.limit_mb) : text.no_limit}` : text.no_cgroup;
}

function updateRetirements(report) {
  const body = document.querySelector("#retirements-table tbody");
  if (!body || !report.retirements) return;
  if (!report.retirements.length) return;  // keep the server's "none yet" row
  body.replaceChildren(...report.retirements.map((item) => {
    const row = document.createElement("tr");
    row.append(element("td", item.at), element("td", String(item.pid)),
      element("td", text.reasons[item.reason] ?? item.reason), element("td", String(item.requests), "num"),
      element("td", item.rss_mb ? mb(item.rss_mb) : "—", "num"));
    return row;
  }));
}

async function poll() {
  try {
    const response = await fetch("/api/monitoring/memory", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.ok) {
      const report = await response.json();
      chart.add(report);
      updateTable(report);
      updateStatus(report);
      updateRetirements(report);
      document.getElementById("poll-error").hidden = true;
    } else {
      document.getElementById("poll-error").hidden = false;
    }
  } catch {
    document.getElementById("poll-error").hidden = false;
  }
  setTimeout(poll, POLL_MS);
}

poll();
