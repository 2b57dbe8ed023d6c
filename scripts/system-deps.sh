#!/usr/bin/env bash
# Install the Debian packages the test suite needs, only those missing.
# Chromium (browser tests), coturn (TURN relay test), ffmpeg (test clips), DejaVu fonts
# (Vietnamese glyphs in the browser and in document watermarks), LibreOffice (office uploads),
# nginx (the documents benchmark), Janus (the forwarding benchmark), redis-server and
# PostgreSQL's server programs (fault tests).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v turnserver >/dev/null 2>&1 || need+=(coturn)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
# Liberation Serif (the minutes PDF) and pdftotext (its test reads the Vietnamese back).
[ -f /usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf ] || need+=(fonts-liberation2)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
# LibreOffice headless converts office documents to PDF on upload (writer, calc, impress).
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui)
# Debian's nginx: bench/documents.py compares serving a document against it.
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
# Debian's janus (VideoRoom plugin, HTTP transport): bench/sfu_forward.py measures it beside
# meetingd, tests/media/test_janus_bench.py checks that harness; iproute2 (ip) makes the
# network namespace a Janus point runs in (and the netem test's).
command -v janus >/dev/null 2>&1 || need+=(janus)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# tests/realtime/test_faults.py kills and restarts a redis-server and a PostgreSQL cluster
# (initdb, pg_ctl) of its own, never the shared ones at 6379 and 5432.
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# coturn's package may start a daemon on the default port; tests run their own.
(systemctl stop coturn 2>/dev/null || service coturn stop 2>/dev/null || true) >/dev/null 2>&1
# nginx's package starts a daemon on port 80; the benchmark runs its own.
(systemctl stop nginx 2>/dev/null || service nginx stop 2>/dev/null || true) >/dev/null 2>&1
# janus's package may start a daemon with /etc/janus; the benchmark runs its own.
(systemctl stop janus 2>/dev/null || service janus stop 2>/dev/null || true) >/dev/null 2>&1
