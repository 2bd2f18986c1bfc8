# Sourced by .ci/run: C2SP tlog-witness software nobody here wrote, for the witnessing
# interoperability tests (cli/tests/witness_interop.rs), and the variables that tell the
# tests where it is.
#  - aics-witness (PyPI, pinned): a standalone C2SP tlog-witness server, and its log-side
#    client (aics_witness.feeder.WitnessClient) that POSTs add-checkpoint with a proof.
#  - aics-tlog (PyPI, pinned): its verifier of C2SP signed notes and cosignatures, with a CLI.
# Both need Python >= 3.12, which the system python3 may not be: pyenv's 3.12 is used
# (`pyenv install -s 3.12` when pyenv has none), in a venv under target/. The pins include
# their dependencies, so that every run gets the same code.

witness_venv=target/witness-venv
witness_pins='aics-witness==0.1.0 aics-tlog==0.2.1 cryptography==50.0.2 cffi==2.1.1 pycparser==3.12'
if ! "$witness_venv/bin/python" -c 'import aics_witness.feeder, aics_tlog' 2>/dev/null; then
  echo "== installing $witness_pins into $witness_venv"
  witness_python=""
  for candidate in python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      witness_python="$(command -v "$candidate")"
      break
    fi
  done
  # pyenv's versions: one already installed, else a 3.12 installed now.
  if [ -z "$witness_python" ] && command -v pyenv >/dev/null; then
    for found in "$(pyenv root)"/versions/3.1[2-9]*/bin/python3; do
      [ -x "$found" ] && witness_python="$found" && break
    done
    if [ -z "$witness_python" ] && pyenv install -s 3.12; then
      for found in "$(pyenv root)"/versions/3.12*/bin/python3; do
        [ -x "$found" ] && witness_python="$found" && break
      done
    fi
  fi
  if [ -z "$witness_python" ]; then
    echo "error: aics-witness needs Python >= 3.12: none on PATH and no pyenv to install one" >&2
    echo "       (install python3.12, or pyenv, and run .ci/run again)" >&2
    exit 2
  fi
  rm -rf "$witness_venv"
  "$witness_python" -m venv "$witness_venv"
  # shellcheck disable=SC2086 # the pins are separate words
  "$witness_venv/bin/pip" install -q $witness_pins
fi
DYAD_AICS_WITNESS="$PWD/$witness_venv/bin/aics-witness"
DYAD_AICS_TLOG="$PWD/$witness_venv/bin/aics-tlog"
DYAD_WITNESS_PYTHON="$PWD/$witness_venv/bin/python"
export DYAD_AICS_WITNESS DYAD_AICS_TLOG DYAD_WITNESS_PYTHON
