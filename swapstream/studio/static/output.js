// The output page (/output?token=...): only the swapped stream, filling the window, for OBS's
// Browser Source and capture tools. Reconnects by itself when the studio stops and starts again.
"use strict";

async function start() {
  const video = document.getElementById("output");
  let retried = false;
  const retry = (pc) => {
    if (retried) return;
    retried = true;
    if (pc) pc.close();
    setTimeout(start, 2000);
  };
  try {
    const pc = await StudioRtc.connect({ role: "viewer", video });
    window.outputPeer = pc; // for tests and the browser's console
    // With sound where the browser allows it to start by itself (OBS does); else muted.
    video.play().catch(() => {
      video.muted = true;
      video.play().catch(() => {});
    });
    const transport = pc.getReceivers()[0].transport;
    const ended = () => ["failed", "closed"].includes(transport.state) && retry(pc);
    transport.addEventListener("statechange", ended); // the studio closed it (DTLS close_notify)
    pc.addEventListener("connectionstatechange", () => ["failed", "closed"].includes(pc.connectionState) && retry(pc));
  } catch (e) {
    retry(null);
  }
}

window.addEventListener("DOMContentLoaded", start);
