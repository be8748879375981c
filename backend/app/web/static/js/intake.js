// /invoices/intake: each PDF or DTE JSON goes to POST /api/invoices/intake on its own (one progress bar
// per file), with the provider and cost type chosen on the page; then what was read, the invoice
// created or the duplicate found, the OT matched and with what confidence, and "needs review".
import { dropZone, element, messages, progressRow, sendFile, tracker } from "./upload.js";

const text = messages();
const form = document.getElementById("intake-form");
const zone = document.getElementById("drop-zone");
const input = form.querySelector("input[type=file]");
const results = document.getElementById("intake-results");

function query() {
  const params = new URLSearchParams();
  for (const name of ["provider_id", "cost_type"]) {
    const value = form.elements[name].value;
    if (value) params.set(name, value);
  }
  return params.toString();
}

function definition(list, label, value) {
  if (value === null || value === undefined || value === "") return;
  list.append(element("dt", label), element("dd", String(value)));
}

function link(href, label) {
  const anchor = element("a", label);
  anchor.href = href;
  return anchor;
}

function render(status, report) {
  status.append(element("strong", text.status[report.status] ?? report.status, `badge badge-${report.status}`));
  const facts = element("dl", null, "facts");
  const read = report.read || {};
  definition(facts, text.kind, report.kind);
  definition(facts, text.invoice_number, read.invoice_number);
  definition(facts, text.issue_date, read.issue_date);
  definition(facts, text.total, read.total);
  definition(facts, text.provider, report.provider?.name);
  if (report.document) definition(facts, "sha256", report.document.sha256);
  status.append(facts);
  if (report.invoice?.id) {
    status.append(link(`/invoices/${report.invoice.id}`, `${text.invoice_created} #${report.invoice.id}`));
  }
  if (report.duplicate_of) {
    status.append(link(`/invoices/${report.duplicate_of.invoice_id}`,
      `${text.duplicate_of} ${report.duplicate_of.invoice_number} (#${report.duplicate_of.invoice_id})`));
  }
  if (report.match) {
    const method = text.methods[report.match.method] ?? report.match.method;
    const confidence = Math.round(Number(report.match.confidence) * 100);
    const matched = element("p", null, "match");
    matched.append(`${text.ot} `, link(`/ots/${report.match.ot_id}`, report.match.ot_number),
      ` · ${method} · ${text.confidence} ${confidence} %`);
    status.append(matched);
  } else if (report.status !== "duplicate" && report.status !== "rejected") {
    status.append(element("p", text.no_ot, "match"));
  }
  if (report.needs_review) status.append(element("p", text.needs_review, "badge badge-review"));
  const notes = [...(report.review_reasons || []), ...(report.warnings || [])];
  if (report.error) notes.unshift(report.error.message);
  if (notes.length) {
    const list = element("ul", null, "notes");
    for (const note of notes) list.append(element("li", note));
    status.append(list);
  }
}

async function takeIn(file) {
  const { item, bar, status } = progressRow(results, file);
  try {
    const answer = await sendFile(`/api/invoices/intake?${query()}`, file, { onProgress: tracker(bar) });
    const report = answer.body?.files?.[0];
    if (answer.status === 200 && report) {
      item.dataset.result = report.status;
      render(status, report);
    } else {
      item.dataset.result = "error";
      status.append(element("strong", text.failed), element("span", ` ${answer.body?.error?.message ?? answer.status}`));
    }
  } catch {
    item.dataset.result = "error";
    status.append(element("strong", text.failed));
  }
}

async function takeInAll(files) {
  for (const file of files) await takeIn(file);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  takeInAll(Array.from(input.files));
  input.value = "";
});
dropZone(zone, input, takeInAll);
form.querySelector("button[type=submit]").style.display = "none";  // picking or dropping files sends them at once
document.documentElement.dataset.intakeReady = "1";
