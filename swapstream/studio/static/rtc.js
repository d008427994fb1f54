// WebRTC with the studio (used by the studio page and the output page): one peer connection per
// page, signalled with one POST (the studio gathers no trickle candidates), no STUN/TURN server.
// role "sender": this page's camera goes to the studio and the swapped stream comes back on the
// same transceiver; role "viewer": only the swapped stream comes back.
"use strict";

const StudioRtc = (() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const url = (path) => `${path}?token=${encodeURIComponent(token)}`;

  function gathered(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => pc.iceGatheringState === "complete" && resolve();
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, timeoutMs);
    });
  }

  // The studio answers an offer once its own side is ready; a call it has not answered by then
  // fails with a message instead of waiting for ever (the page offers to try again).
  const ANSWER_TIMEOUT_MS = 30000;

  // -> the RTCPeerConnection; the swapped video plays in `video` once it arrives. phase(name) is
  // told each step: "gathering", "signalling", "answered".
  async function connect({ role, camera = null, takeOver = false, video = null, phase = () => {} }) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    if (camera) {
      const track = camera.getVideoTracks()[0];
      // The swap needs the face's pixels: when the browser is short of CPU or bandwidth it should
      // send fewer frames rather than smaller ones (the studio's governor handles its own load).
      track.contentHint = "detail";
      pc.addTransceiver(track, { direction: "sendrecv" });
      // the microphone comes back delayed by the target delay, in step with the swapped video
      const mic = camera.getAudioTracks()[0];
      if (mic) pc.addTransceiver(mic, { direction: "sendrecv" });
    } else {
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    const remote = new MediaStream();
    pc.addEventListener("track", (e) => {
      // Live, not smooth: show each swapped frame as soon as it is decoded (no playout buffer);
      // the audio's delay is the studio's target delay, applied there.
      if ("jitterBufferTarget" in e.receiver) e.receiver.jitterBufferTarget = 0;
      if ("playoutDelayHint" in e.receiver) e.receiver.playoutDelayHint = 0;
      remote.addTrack(e.track);
      if (video && video.srcObject !== remote) video.srcObject = remote;
    });
    await pc.setLocalDescription(await pc.createOffer());
    // The studio takes no trickled candidates, so the offer must hold them all. Sent after at most
    // 3 s of gathering, on a host with IPv4 and IPv6 interfaces, the camera's call never connected
    // in 2 of 4 runs of tests/test_studio_webrtc.py; with 10 s, 10 of 10 connected.
    phase("gathering");
    await gathered(pc, 10000);
    phase("signalling");
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ANSWER_TIMEOUT_MS);
    let r;
    try {
      r = await fetch(url("api/rtc/offer"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp, role, take_over: takeOver }),
        signal: abort.signal,
      });
    } catch (e) {
      pc.close();
      if (!abort.signal.aborted) throw e;
      throw new Error(`the studio did not answer within ${ANSWER_TIMEOUT_MS / 1000} s; try again`);
    } finally {
      clearTimeout(timer);
    }
    const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) {
      pc.close();
      const err = new Error(body.error || `HTTP ${r.status}`);
      err.status = r.status;
      throw err;
    }
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
    phase("answered");
    return pc;
  }

  // Per-second figures from the WebRTC stats (deltas since the previous call), in ms and fps:
  // the browser's share of the round trip (encode, send, network round trip, jitter buffer and
  // decode of the returned stream), the received frame rate and the frames dropped.
  function meter(pc) {
    let prev = new Map();
    return async () => {
      const now = new Map();
      (await pc.getStats()).forEach((s) => now.set(s.id, s));
      const d = (s, key) => (s[key] ?? 0) - ((prev.get(s.id) || {})[key] ?? 0);
      const out = { browser_ms: 0, fps: null, dropped: 0, received: 0, sent: 0, rtt_ms: null };
      for (const s of now.values()) {
        if (s.kind !== "video") continue;
        if (s.type === "outbound-rtp") {
          const n = d(s, "framesEncoded");
          if (n > 0) out.browser_ms += (1000 * d(s, "totalEncodeTime")) / n;
          const p = d(s, "packetsSent");
          if (p > 0) out.browser_ms += (1000 * d(s, "totalPacketSendDelay")) / p;
          out.sent = s.framesSent ?? s.framesEncoded ?? 0;
        } else if (s.type === "remote-inbound-rtp" && s.roundTripTime !== undefined) {
          out.rtt_ms = 1000 * s.roundTripTime;
        } else if (s.type === "inbound-rtp") {
          const n = d(s, "framesDecoded");
          if (n > 0) out.browser_ms += (1000 * (d(s, "totalProcessingDelay") || d(s, "totalDecodeTime"))) / n;
          out.fps = s.framesPerSecond ?? null;
          out.dropped = s.framesDropped ?? 0;
          out.received = s.framesDecoded ?? 0;
        }
      }
      if (out.rtt_ms !== null) out.browser_ms += out.rtt_ms;
      prev = now;
      return out;
    };
  }

  return { connect, meter, url };
})();
