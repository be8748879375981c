// Follows the background exports still queued or running on "your exports": GET /api/exports/<id> every
// two seconds moves the row's progress bar and row count; when a job's state changes the page reloads,
// so the server renders its new state, error or download link. Without JavaScript a reload does the same.
const POLL_MS = 2000;
const ACTIVE = new Set(["queued", "running"]);
const numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);

function show(row, job) {
  const bar = row.querySelector("progress");
  if (bar && job.rows_estimate) {
    bar.value = Math.min(100, Math.floor((100 * job.rows_written) / job.rows_estimate));
  }
  const written = row.querySelector('[data-field="written"]');
  if (written) written.textContent = numbers.format(job.rows_written);
  const estimate = row.querySelector('[data-field="estimate"]');
  if (estimate && job.rows_estimate) estimate.textContent = numbers.format(job.rows_estimate);
}

async function poll(row) {
  const response = await fetch(`/api/exports/${row.dataset.exportJob}`, { headers: { Accept: "application/json" } });
  if (!response.ok) return false;
  const job = await response.json();
  if (job.status !== row.dataset.status) {
    window.location.reload();
    return false;
  }
  show(row, job);
  return true;
}

function follow(row) {
  const tick = async () => {
    let again = false;
    try {
      again = await poll(row);
    } catch {
      again = true; // a dropped connection: try again at the next tick
    }
    if (again) window.setTimeout(tick, POLL_MS);
  };
  window.setTimeout(tick, POLL_MS);
}

for (const row of document.querySelectorAll("tr[data-export-job]")) {
  if (ACTIVE.has(row.dataset.status)) follow(row);
}
