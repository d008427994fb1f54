// The output page (/output?token=...): only the swapped stream, filling the window, for OBS's
// Browser Source and capture tools. Reconnects by itself when the studio restarts the stream.
"use strict";

async function start() {
  const video = document.getElementById("output");
  try {
    const pc = await StudioRtc.connect({ role: "viewer", video });
    pc.addEventListener("connectionstatechange", () => {
      if (["failed", "closed", "disconnected"].includes(pc.connectionState)) {
        pc.close();
        setTimeout(start, 2000);
      }
    });
  } catch (e) {
    setTimeout(start, 2000);
  }
}

window.addEventListener("DOMContentLoaded", start);
