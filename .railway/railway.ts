// Railway Infrastructure as Code for NextOps (the successor of railway.json / railway.toml).
// Preview with `railway config plan`, apply with `railway config apply` (needs the `railway` npm package
// installed at the repository root: `npm install railway`). See RAILWAY_SETUP.md before applying to an
// existing project: names here must match your services, or the plan will create/delete resources.
//
// The start command is also in backend/railpack.json and the Python version in backend/.python-version,
// which Railway's builder (Railpack) reads on every build, so a build works without this file too.
// The variables below must equal the table in deploy_optimizations.sh (backend/tests/test_deploy_config.py
// checks that they do) and the Railway column of docs/configuration.md (backend/tests/test_docs.py).
import { defineRailway, postgres, project, service, volume } from "railway/iac";

export default defineRailway(() => {
  const db = postgres("postgres");
  const storage = volume("nextops-storage", { sizeMB: 5120 });

  const backend = service("backend", {
    rootDirectory: "backend",
    start: "gunicorn wsgi:app",
    preDeploy: "flask db upgrade",
    healthcheck: "/health",
    healthcheckTimeout: 120,
    deploy: { restartPolicyType: "ON_FAILURE", restartPolicyMaxRetries: 10 },
    // One replica: uploads live on the volume below, which only one replica can mount.
    replicas: 1,
    volumeMounts: { "/data": storage },
    env: {
      DATABASE_URL: db.env.DATABASE_URL,
      STORAGE_BACKEND: "local",
      STORAGE_DIR: "/data/storage",
      GUNICORN_WORKERS: "2",
      GUNICORN_WORKER_CLASS: "gevent",
      GUNICORN_MAX_REQUESTS: "500",
      GUNICORN_MAX_REQUESTS_JITTER: "50",
      GUNICORN_TIMEOUT: "120",
      GUNICORN_GRACEFUL_TIMEOUT: "120",
      GUNICORN_PRELOAD: "true",
      GUNICORN_GC_FREEZE: "true",
      GUNICORN_MAX_WORKER_MEMORY_MB: "350",
      LOG_LEVEL: "WARNING",
      // MEMORY_ALERT_MB stays unset: the service uses 40% of its container's memory limit (400 MB on 1 GB).
      MEMORY_SAMPLE_RATE: "0.01",
      EXPORT_CHUNK_SIZE: "100",
      UPLOAD_CHUNK_SIZE: "65536",
      MAX_UPLOAD_MB: "25",
    },
  });

  return project("nextops", { resources: [db, backend, storage] });
});
