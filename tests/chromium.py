"""Debian's Chromium for the browser tests, with the flags every one of them needs: root
(no sandbox), this closed network (no background fetches or component updates), fake camera
and microphone, WebRTC on loopback (no mDNS-hidden addresses) and media that plays unasked.

The browser tests (tests/e2e, tests/media/test_browser.py) launch it through Playwright with
``executable_path``; no browser is ever downloaded."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
#: Camera and microphone granted to every page without asking (where no context grants them).
FAKE_UI = "--use-fake-ui-for-media-stream"
