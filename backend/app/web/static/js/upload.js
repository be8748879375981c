// Uploads one file per request with XMLHttpRequest: fetch() has no upload progress, and one request
// per file gives each file its own progress bar and its own answer. The endpoints are the API's own
// streamed ones; the session cookie goes with the request and the CSRF token in X-CSRFToken.

let cachedToken = null;

// The CSRF token from the page's <meta name="csrf-token">, else from GET /api/session.
export async function csrfToken() {
  if (cachedToken) return cachedToken;
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    cachedToken = meta.content;
  } else {
    const response = await fetch("/api/session", { credentials: "same-origin", headers: { Accept: "application/json" } });
    cachedToken = (await response.json()).csrf_token;
  }
  return cachedToken;
}

// POST `file` (and `fields`) as multipart to `url`; `onProgress(fraction)` as bytes leave.
// Resolves with {status, body} for any HTTP answer (body: parsed JSON or null); rejects on a network error.
export async function sendFile(url, file, { onProgress = () => {}, fields = {} } = {}) {
  const token = await csrfToken();
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", file, file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total, true);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      onProgress(1, false);
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener("error", () => reject(new Error("network error")));
    xhr.send(form);
  });
}

// Submit a whole <form> (several files in one request) with one progress bar, asking for a JSON answer;
// resolves with the XMLHttpRequest. Used where the server keeps the files between steps (imports).
export async function submitForm(form, onProgress) {
  const xhr = new XMLHttpRequest();
  xhr.open(form.method.toUpperCase(), form.action);
  xhr.setRequestHeader("X-CSRFToken", await csrfToken());
  xhr.setRequestHeader("Accept", "application/json");
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) onProgress(event.loaded / event.total);
  });
  return new Promise((resolve, reject) => {
    xhr.addEventListener("load", () => resolve(xhr));
    xhr.addEventListener("error", () => reject(new Error("network error")));
    xhr.send(new FormData(form));
  });
}

// Files dropped on `zone` or picked in `input` go to `onFiles(Array<File>)`; the zone is keyboard-usable
// (Enter/Space open the picker) and shows a state while something is dragged over it.
export function dropZone(zone, input, onFiles) {
  const take = (files) => {
    const list = Array.from(files || []);
    if (list.length) onFiles(list);
  };
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    take(event.dataTransfer.files);
  });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      input.click();
    }
  });
  input.addEventListener("change", () => {
    take(input.files);
    input.value = "";
  });
}

// The page's translated strings, rendered by the server into <script type="application/json" id="messages">.
export function messages() {
  const node = document.getElementById("messages");
  return node ? JSON.parse(node.textContent) : {};
}

// A row for one file: name, a <progress>, and a status cell the caller fills in.
export function progressRow(list, file) {
  const item = document.createElement("li");
  item.className = "upload-item";
  const name = document.createElement("span");
  name.className = "upload-name";
  name.textContent = file.name;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute("aria-label", file.name);
  const status = document.createElement("div");
  status.className = "upload-status";
  status.setAttribute("role", "status");
  item.append(name, bar, status);
  list.prepend(item);
  return { item, bar, status };
}

// The onProgress of one file's <progress>: its value, and how many upload progress events arrived
// (data-progress-events, which the browser tests read).
export function tracker(bar) {
  return (fraction, fromEvent) => {
    bar.value = fraction;
    if (fromEvent) bar.dataset.progressEvents = String(Number(bar.dataset.progressEvents || 0) + 1);
  };
}

export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}
