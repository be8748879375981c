// /imports: the chosen workbooks go up in one request (the import is one transaction over all of them),
// so there is one progress bar, with each file's share of the bytes shown beside its name. The server
// stages the files and answers with the preview's address, which this script then opens.
import { element, messages, submitForm } from "./upload.js";

const text = messages();
const form = document.getElementById("import-form");
const input = form.querySelector("input[type=file]");
const zone = document.getElementById("drop-zone");
const list = document.getElementById("import-files-list");
const bar = document.getElementById("import-progress");

function showChosen() {
  list.replaceChildren(...Array.from(input.files).map((file) => {
    const item = element("li");
    const progress = document.createElement("progress");
    progress.max = 1;
    progress.value = 0;
    progress.setAttribute("aria-label", file.name);
    item.append(element("span", file.name, "upload-name"), progress);
    return item;
  }));
}

function perFile(fraction) {
  // The body is the files in order: a file's bar fills while the total passes through its share.
  const files = Array.from(input.files);
  const total = files.reduce((sum, file) => sum + file.size, 0) || 1;
  let start = 0;
  files.forEach((file, index) => {
    const share = file.size / total;
    const value = share ? Math.min(1, Math.max(0, (fraction - start) / share)) : 1;
    list.children[index]?.querySelector("progress")?.setAttribute("value", value.toFixed(3));
    start += share;
  });
  bar.value = fraction;
}

input.addEventListener("change", showChosen);
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  input.files = event.dataTransfer.files;
  showChosen();
});
zone.addEventListener("dragover", (event) => event.preventDefault());
zone.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    input.click();
  }
});
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!input.files.length) return;
  bar.hidden = false;
  form.querySelector("button[type=submit]").disabled = true;
  try {
    const xhr = await submitForm(form, perFile);
    let body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch {
      body = null;
    }
    if (xhr.status === 200 && body?.location) {
      window.location.assign(body.location);
      return;
    }
    form.querySelector("button[type=submit]").disabled = false;
    document.getElementById("import-error").textContent = body?.error?.message ?? text.failed;
  } catch {
    form.querySelector("button[type=submit]").disabled = false;
    document.getElementById("import-error").textContent = text.failed;
  }
});
document.documentElement.dataset.importsReady = "1";
