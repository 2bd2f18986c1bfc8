# Sourced by .ci/run: the tools the publishing tests (cli/tests/publish.rs) run as their own
# processes on loopback, and the variables that tell the tests where they are.
#  - nginx (Debian's package): a static web server and a caching proxy in front of S3.
#  - moto_server (PyPI moto[server], pinned): an S3-compatible HTTP server in its own process,
#    which checks nothing of dyad's: the publisher talks to it with signed (SigV4) requests
#    through object_store as to any S3, and it keeps bucket policies (anonymous reads, for
#    `dyad audit --url` on its plain HTTP address) and the objects' Content-Type and
#    Cache-Control. A pip install takes seconds.
#    Not s3s-fs (crates.io), measured on the 2-core machine for issue 19: `cargo install
#    s3s-fs@0.14.1 --locked --features binary` took 2 min 40 s (145 CPU-s, 0.9 GB peak memory,
#    385 MB of build output) in every fresh CI clone, its newest release (0.17) needs a newer
#    rustc than this toolchain's, and it cannot serve both sides of the test: with keys it
#    refuses unsigned reads ("Signature is required"), without keys it refuses signed writes
#    (501, "no authentication provider"), and it has no bucket policies.
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
