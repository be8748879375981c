#!/usr/bin/env bash
# Deploy NextOps to Railway: preflight, commit, push, then set the Railway variables.
#
# Steps (each stops the script with a clear message and a non-zero exit if it fails):
#   1. inside a git work tree, on the expected branch (default: main)
#   2. backend/requirements.txt lists every runtime dependency the optimizations need, and the files
#      Railway's build reads are there (railpack.json, .python-version, gunicorn.conf.py, wsgi.py)
#   3. the test command passes (default: make test; override with DEPLOY_TEST_CMD) unless --skip-tests
#   4. show the pending changes and ask for confirmation (unless --yes)
#   5. commit them (git add -A; git commit) when there are any
#   6. push the branch to the remote (default: origin); Railway deploys on push
#   7. set the Railway variables with `railway variable set KEY=VALUE ...` when the CLI is installed
#      and linked (`railway status` succeeds); otherwise print exactly what to set
# --dry-run runs only the read-only checks (1, 2, status and `railway status`) and prints every other
# step instead of running it: no tests, no commit, no push, no variable change.
#
# Portable bash (Linux, macOS bash 3.2, Git Bash on Windows): no GNU-only flags, no bash 4 features.

set -euo pipefail

PROG="deploy_optimizations.sh"

# The Railway variables table. Values are backend/config.py's defaults except LOG_LEVEL (WARNING in
# production); backend/tests/test_deploy_script.py fails if the two ever disagree.
RAILWAY_VARIABLES=(
  GUNICORN_WORKERS=2
  GUNICORN_WORKER_CLASS=gevent
  GUNICORN_MAX_REQUESTS=500
  GUNICORN_MAX_REQUESTS_JITTER=50
  GUNICORN_TIMEOUT=120
  GUNICORN_GRACEFUL_TIMEOUT=120
  GUNICORN_PRELOAD=true
  GUNICORN_GC_FREEZE=true
  GUNICORN_MAX_WORKER_MEMORY_MB=350
  LOG_LEVEL=WARNING
  MEMORY_SAMPLE_RATE=0.01
  EXPORT_CHUNK_SIZE=100
  UPLOAD_CHUNK_SIZE=65536
  MAX_UPLOAD_MB=25
)

# Runtime packages the optimized server cannot start without (names compared case-insensitively,
# with - _ . treated alike, as pip does).
REQUIRED_DEPS="flask flask-sqlalchemy flask-migrate sqlalchemy alembic gunicorn gevent psycogreen psycopg2-binary psutil python-json-logger"

BRANCH="main"
REMOTE="origin"
MESSAGE="Deploy memory optimizations: streaming exports and uploads, 2 gevent workers, memory monitoring"
SERVICE=""
ASSUME_YES=0
DRY_RUN=0
SKIP_TESTS=0
TEST_CMD="${DEPLOY_TEST_CMD:-make test}"
STEP=0

usage() {
  cat <<EOF
Usage: ./$PROG [options]

  --branch NAME    branch that must be checked out and is pushed (default: main)
  --remote NAME    git remote to push to (default: origin)
  --message TEXT   commit message (default: "$MESSAGE")
  --service NAME   Railway service for 'railway variable set' (default: the linked service)
  --skip-tests     do not run the test command (\$DEPLOY_TEST_CMD, default: make test)
  --yes, -y        do not ask for confirmation
  --dry-run        print every step, change nothing (runs only read-only checks)
  --help, -h       this text
EOF
}

die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

step() {
  STEP=$((STEP + 1))
  printf '\n==> [%s] %s\n' "$STEP" "$*"
}

# Run a command that changes something, or only print it under --dry-run.
run() {
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '[dry-run] would run:'
    printf ' %s' "$@"
    printf '\n'
    return 0
  fi
  printf '+'
  printf ' %s' "$@"
  printf '\n'
  "$@"
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --branch) [ $# -ge 2 ] || die "--branch needs a value"; BRANCH="$2"; shift 2 ;;
      --remote) [ $# -ge 2 ] || die "--remote needs a value"; REMOTE="$2"; shift 2 ;;
      --message) [ $# -ge 2 ] || die "--message needs a value"; MESSAGE="$2"; shift 2 ;;
      --service) [ $# -ge 2 ] || die "--service needs a value"; SERVICE="$2"; shift 2 ;;
      --skip-tests) SKIP_TESTS=1; shift ;;
      --yes | -y) ASSUME_YES=1; shift ;;
      --dry-run) DRY_RUN=1; shift ;;
      --help | -h) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
  done
}

check_repository() {
  step "Checking the git repository and branch"
  local top current
  top=$(git rev-parse --show-toplevel 2>/dev/null) || die "not inside a git repository: run this from the NextOps clone"
  cd "$top"
  current=$(git symbolic-ref --quiet --short HEAD 2>/dev/null) || die "HEAD is detached: check out '$BRANCH' first"
  [ "$current" = "$BRANCH" ] || die "on branch '$current', expected '$BRANCH' (git checkout $BRANCH, or pass --branch $current)"
  git remote get-url "$REMOTE" >/dev/null 2>&1 || die "git remote '$REMOTE' does not exist (git remote -v lists them; --remote NAME)"
  echo "repository: $top"
  echo "branch: $current, remote: $REMOTE"
}

# Print the normalized package names listed in a requirements file, one per line.
requirement_names() {
  sed -e 's/#.*$//' "$1" | tr 'A-Z_.' 'a-z--' | sed -e 's/^[[:space:]]*//' -e 's/[^a-z0-9-].*$//' | grep -v '^$' || true
}

check_dependencies() {
  step "Checking runtime dependencies and build files in backend/"
  local file="backend/requirements.txt" names dep missing=""
  [ -f "$file" ] || die "$file not found: Railway installs the backend's dependencies from it"
  # Newline-delimited, so a pattern match checks whole names (no pipe into grep -q: under pipefail an
  # early-exiting grep can fail the pipeline with SIGPIPE and report a present package as missing).
  names="
$(requirement_names "$file")
"
  for dep in $REQUIRED_DEPS; do
    case "$names" in
      *"
$dep
"*) ;;
      *) missing="$missing $dep" ;;
    esac
  done
  [ -z "$missing" ] || die "missing from $file:$missing (the optimized server needs them; add pinned versions)"
  echo "all present: $REQUIRED_DEPS"
  for file in backend/railpack.json backend/.python-version backend/gunicorn.conf.py backend/wsgi.py; do
    [ -f "$file" ] || die "$file not found: Railway's build needs it (see RAILWAY_SETUP.md)"
  done
  echo "build files present: railpack.json (start command), .python-version, gunicorn.conf.py, wsgi.py"
}

run_tests() {
  if [ "$SKIP_TESTS" -eq 1 ]; then
    step "Tests skipped (--skip-tests)"
    return 0
  fi
  step "Running the tests: $TEST_CMD"
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "[dry-run] would run: $TEST_CMD"
    return 0
  fi
  sh -c "$TEST_CMD" || die "tests failed ($TEST_CMD): fix them before deploying, nothing was committed"
}

show_changes() {
  step "Changes to deploy"
  local changes ahead
  changes=$(git status --short)
  if [ -n "$changes" ]; then
    printf '%s\n' "$changes"
  else
    echo "working tree clean: nothing to commit"
  fi
  if ahead=$(git rev-list --count "$REMOTE/$BRANCH..HEAD" 2>/dev/null); then
    echo "commits not yet on $REMOTE/$BRANCH: $ahead"
  else
    echo "$REMOTE/$BRANCH is not known locally yet: the whole branch will be pushed"
  fi
}

confirm() {
  if [ "$DRY_RUN" -eq 1 ] || [ "$ASSUME_YES" -eq 1 ]; then
    return 0
  fi
  local answer=""
  printf '\nCommit these changes, push %s to %s and set the Railway variables? [y/N] ' "$BRANCH" "$REMOTE"
  read -r answer || true
  case "$answer" in
    y | Y | yes | YES | Yes) ;;
    *) die "aborted at the confirmation prompt: nothing was committed or pushed" ;;
  esac
}

commit_changes() {
  step "Committing"
  if [ -z "$(git status --porcelain)" ]; then
    echo "nothing to commit"
    return 0
  fi
  run git add -A || die "git add failed"
  run git commit -m "$MESSAGE" || die "git commit failed (is user.name/user.email set? see the message above)"
}

push_branch() {
  step "Pushing $BRANCH to $REMOTE (Railway deploys the pushed commit)"
  run git push "$REMOTE" "$BRANCH" || die "git push to '$REMOTE' failed: see git's message above; nothing on Railway changed"
}

# MEMORY_ALERT_MB is not in the table on purpose: unset, the service derives it from its container (40% of the
# cgroup memory limit), the same value check_memory.py recommends (backend/ops/cgroup.py).
alert_note() {
  echo "MEMORY_ALERT_MB: leave it unset; the service alerts at 40% of its container's memory limit (400 MB on 1 GB)."
}

print_variables() {
  echo "Set these variables on the Railway service (dashboard: service > Variables > Raw Editor):"
  echo
  printf '%s\n' "${RAILWAY_VARIABLES[@]}"
  echo
  alert_note
  echo
  echo "or, once the CLI is installed and linked (railway login && railway link):"
  echo
  printf '  railway variable set%s' "${SERVICE:+ --service $SERVICE}"
  printf ' %s' "${RAILWAY_VARIABLES[@]}"
  printf '\n'
}

set_variables() {
  step "Setting the Railway variables"
  alert_note
  if ! command -v railway >/dev/null 2>&1; then
    echo "Railway CLI not found on PATH."
    print_variables
    return 0
  fi
  if ! railway status >/dev/null 2>&1; then
    echo "Railway CLI found, but 'railway status' failed: this directory is not linked (run 'railway link')."
    print_variables
    return 0
  fi
  if [ -n "$SERVICE" ]; then
    run railway variable set --service "$SERVICE" "${RAILWAY_VARIABLES[@]}" || die "railway variable set failed: see the CLI's message above"
  else
    run railway variable set "${RAILWAY_VARIABLES[@]}" || die "railway variable set failed: see the CLI's message above"
  fi
}

main() {
  parse_args "$@"
  [ "$DRY_RUN" -eq 0 ] || echo "DRY RUN: read-only checks run; every step that changes something is only printed."
  check_repository
  check_dependencies
  run_tests
  show_changes
  confirm
  commit_changes
  push_branch
  set_variables
  echo
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "Dry run finished: nothing was changed."
  else
    echo "Done. Follow the deploy in the Railway dashboard; verify with RAILWAY_SETUP.md (post-deploy checks)."
  fi
}

main "$@"
