#!/usr/bin/env bash
# Make sure the headless browser of the License Manager's browser tests is here: Debian's
# chromium at /usr/bin/chromium (Playwright drives it; `playwright install` is never used).
#
# Idempotent: does nothing when chromium is installed. Otherwise installs it with apt-get
# (as root). LICENSING_CHROMIUM points the tests at another executable.
#
# Exit status: 0 when the browser is there, 1 otherwise (with what to do on stderr).
set -uo pipefail

BROWSER=${LICENSING_CHROMIUM:-/usr/bin/chromium}
say() { printf 'ensure-browser: %s\n' "$*"; }
fail() { printf 'ensure-browser: ERROR: %s\n' "$*" >&2; }

if [[ -x $BROWSER ]]; then
    say "$("$BROWSER" --version 2>/dev/null || echo "$BROWSER") is installed"
    exit 0
fi
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    fail "no browser at $BROWSER; install Debian's chromium (apt-get install chromium) as root,"
    fail "  or set LICENSING_CHROMIUM to a Chromium executable"
    exit 1
fi
say "installing Debian's chromium (apt-get install chromium)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
    fail "apt-get could not install chromium"
    exit 1
fi
if [[ ! -x $BROWSER ]]; then
    fail "chromium was installed but $BROWSER is not there; set LICENSING_CHROMIUM"
    exit 1
fi
say "$("$BROWSER" --version 2>/dev/null || echo "$BROWSER") is installed"
