# Shared by scripts/test.sh and scripts/demo.sh: a project virtualenv with the package installed.
ensure_venv() {
  local extras="$1"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  local stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${extras//[^a-z]/}"
  if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e "$extras"
    touch "$stamp"
  fi
}
