# Sourced by .ci/run: the tools the publishing tests (cli/tests/publish.rs) run as their own
# processes on loopback, and the variables that tell the tests where they are.
#  - nginx (Debian's package): a static web server and a caching proxy in front of S3.
#  - moto_server (PyPI moto[server], pinned): a real S3-compatible HTTP server in its own
#    process; a pip install takes seconds, where `cargo install s3s-fs` compiles for minutes.
# Both live outside the checkout's sources: nginx from apt, moto in a venv under target/.

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "== installing nginx"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq && $sudo apt-get install -y -qq nginx
fi
DYAD_NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
export DYAD_NGINX

moto_venv=target/moto-venv
if ! "$moto_venv/bin/python" -c 'import moto.server' 2>/dev/null; then
  echo "== installing moto[server] into $moto_venv"
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/pip" install -q 'moto[server]==5.2.5'
fi
DYAD_S3_SERVER="$PWD/$moto_venv/bin/moto_server"
export DYAD_S3_SERVER
