# Shared by scripts/test.sh and scripts/demo.sh: a project virtualenv with the package installed.
# Progress goes to stderr, so a first run says what it is doing instead of sitting silent.
ensure_venv() {
  local extras="$1"
  if [ ! -x .venv/bin/python ]; then
    echo "creating the virtualenv .venv (first run)" >&2
    python3 -m venv .venv
  fi
  local stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${extras//[^a-z]/}"
  if [ ! -f "$stamp" ]; then
    echo "installing imagejobs and its dependencies into .venv (first run or a changed" \
      "pyproject.toml; about a minute)" >&2
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e "$extras"
    touch "$stamp"
    echo "installed into .venv" >&2
  fi
}
