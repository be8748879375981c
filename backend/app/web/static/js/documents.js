// /documents: each dropped or picked file goes to POST /api/uploads on its own, with its own progress
// bar, then shows its sha256 and whether it was new or a duplicate. New documents join the list.
import { dropZone, element, messages, progressRow, sendFile, tracker } from "./upload.js";

const text = messages();
const form = document.getElementById("upload-form");
const zone = document.getElementById("drop-zone");
const input = form.querySelector("input[type=file]");
const results = document.getElementById("upload-results");
const table = document.querySelector("#documents-table tbody");

function sizeText(bytes) {
  return bytes.toLocaleString("en-US");  // as the page writes sizes: 1,234,567
}

function addToList(doc) {
  if (!table || table.querySelector(`tr[data-document-id="${doc.id}"]`)) return;
  const row = document.createElement("tr");
  row.dataset.documentId = doc.id;
  const link = element("a", doc.filename);
  link.href = doc.content_url;
  const name = element("td");
  name.append(link);
  row.append(name, element("td", doc.content_type), element("td", sizeText(doc.size), "num"),
    element("td", doc.sha256, "mono"), element("td", text.just_now));
  table.prepend(row);
  document.getElementById("documents-empty")?.remove();
}

async function upload(file) {
  const { item, bar, status } = progressRow(results, file);
  try {
    const answer = await sendFile("/api/uploads", file, { onProgress: tracker(bar) });
    if (answer.status === 200 || answer.status === 201) {
      const doc = answer.body;
      item.dataset.result = doc.duplicate ? "duplicate" : "stored";
      status.append(element("strong", doc.duplicate ? text.duplicate : text.stored),
        element("span", ` sha256 ${doc.sha256}`, "mono"));
      if (doc.duplicate) status.append(element("span", ` ${text.duplicate_of} #${doc.id}`));
      addToList(doc);
    } else {
      item.dataset.result = "error";
      status.append(element("strong", text.failed),
        element("span", ` ${answer.body?.error?.message ?? answer.status}`));
    }
  } catch {
    item.dataset.result = "error";
    status.append(element("strong", text.failed));
  }
}

async function uploadAll(files) {
  for (const file of files) await upload(file);  // one at a time: the server streams each to storage
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  uploadAll(Array.from(input.files));
  input.value = "";
});
dropZone(zone, input, uploadAll);
form.querySelector("button[type=submit]").style.display = "none";  // picking or dropping files sends them at once
document.documentElement.dataset.documentsReady = "1";
