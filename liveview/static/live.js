// The live call view. It reads the CTI hub's stream (GET v1/events,
// NDJSON, see package cti) with fetch, the admin token in an Authorization
// header (kept in this tab's sessionStorage, never in a URL), and shows
// every call: ARI channel events give its state and caller, the gateway's
// EIVRSession events its ExternalIVR exchange. After a cut-off or a broken
// stream it comes back with Last-Event-ID (no gap, or a CTIGap and a
// fresh CTISnapshot). Every text is set with textContent: nothing from a
// call is ever parsed as HTML.
'use strict';
(() => {
  const KEY = 'eivr-gateway-admin-token';
  const $ = (id) => document.getElementById(id);
  const conf = document.querySelector('meta[name="eivr-live"]').dataset;
  const EVENTS = conf.events;
  const LINGER = Number(conf.linger);
  const MAX_CALLS = Number(conf.maxCalls);
  const MAX_LINES = Number(conf.maxLines);
  const calls = new Map(); // channel id -> call (insertion order: oldest first)
  let lastID = '';         // cti_id of the last message: where a reconnect resumes
  let generation = 0;      // a newer connect() makes an older stream stop
  let retryTimer = 0;

  function setStatus(text, cls) {
    const s = $('status');
    s.textContent = text;
    s.className = 'status ' + cls;
  }

  function showLogin(msg) {
    generation++;
    setStatus('not connected', 'off');
    $('login-error').textContent = msg || '';
    $('login').hidden = false;
    $('logout').hidden = true;
    $('token').focus();
  }

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token').value;
    $('token').value = '';
    if (!t) return;
    sessionStorage.setItem(KEY, t);
    connect();
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showLogin('');
  });

  function retry(gen, why) {
    if (gen !== generation) return;
    setStatus(why + '; reconnecting…', 'error');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, 2000);
  }

  async function connect() {
    const gen = ++generation;
    clearTimeout(retryTimer);
    const token = sessionStorage.getItem(KEY);
    if (!token) { showLogin(''); return; }
    $('login').hidden = true;
    $('logout').hidden = false;
    setStatus('connecting…', 'off');
    const headers = { 'Authorization': 'Bearer ' + token, 'Accept': 'application/x-ndjson' };
    if (lastID) headers['Last-Event-ID'] = lastID;
    let res;
    try {
      res = await fetch(EVENTS, { headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
    } catch (e) {
      retry(gen, 'gateway unreachable');
      return;
    }
    if (res.status === 401 || res.status === 403) {
      const text = (await res.text()).trim();
      sessionStorage.removeItem(KEY);
      showLogin(res.status === 401 ? 'Wrong token.' : text);
      return;
    }
    if (res.status === 404) {
      retry(gen, 'no event stream on this gateway (' + EVENTS + ': 404)');
      return;
    }
    if (!res.ok) {
      retry(gen, ((await res.text()).trim() || 'HTTP ' + res.status));
      return;
    }
    setStatus('live', 'live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let why = 'stream ended';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || gen !== generation) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line) continue;
          const m = JSON.parse(line);
          if (m.type === 'CTICutOff') why = 'cut off (' + m.reason + ')';
          handle(m);
        }
      }
    } catch (e) {
      why = 'stream broken';
    }
    reader.cancel().catch(() => {});
    retry(gen, why);
  }

  function handle(m) {
    if (m.cti_id) lastID = m.cti_id;
    switch (m.type) {
      case 'CTISnapshot': snapshot(m); break;
      case 'CTIGap': notice('missed ' + (m.missed || 0) + ' events (' + m.reason + '): rebuilt from a snapshot'); break;
      case 'CTICutOff': break;
      case 'EIVRSession': session(m); break;
      default: if (m.channel && m.channel.id) channelEvent(m);
    }
    bound();
    $('empty').hidden = calls.size > 0;
  }

  function notice(text) { $('notice').textContent = text; }

  // A snapshot replaces what is live; ended calls stay until they go.
  function snapshot(m) {
    const live = new Set();
    for (const ch of m.channels || []) { live.add(ch.id); channel(ch); }
    for (const s of m.sessions || []) { live.add(s.channel.id); session(s); }
    for (const [id, c] of calls) if (!c.endedAt && !live.has(id)) end(c, 'ended', '');
  }

  function get(id) {
    let c = calls.get(id);
    if (!c) {
      c = { id, name: '', callerNum: '', callerName: '', chanState: '', hold: false, sess: '',
            target: '', app: '', status: '', cause: '', endedAt: 0, state: 'live', el: null };
      c.el = build(id);
      calls.set(id, c);
    }
    return c;
  }

  function channel(ch) {
    const c = get(ch.id);
    if (ch.name) c.name = ch.name;
    if (ch.state) c.chanState = ch.state;
    if (ch.caller && (ch.caller.number || ch.caller.name)) {
      c.callerNum = ch.caller.number || '';
      c.callerName = ch.caller.name || '';
    }
    return c;
  }

  function channelEvent(m) {
    const c = channel(m.channel);
    switch (m.type) {
      case 'ChannelHold': c.hold = true; break;
      case 'ChannelUnhold': c.hold = false; break;
      case 'ChannelEnteredBridge': note(c, 'entered bridge ' + m.bridge.id, m.timestamp); break;
      case 'ChannelLeftBridge': note(c, 'left bridge ' + m.bridge.id, m.timestamp); break;
      case 'ChannelDestroyed':
        c.chanState = '';
        if (!c.endedAt) end(c, 'ended', m.cause_txt || '');
        break;
    }
    render(c);
  }

  function session(m) {
    const c = get(m.channel.id);
    if (m.channel.name) c.name = m.channel.name;
    c.app = m.application || c.app;
    switch (m.phase) {
      case 'started':
        if (m.caller && (m.caller.number || m.caller.name)) {
          c.callerNum = m.caller.number || '';
          c.callerName = m.caller.name || '';
        }
        c.target = m.target || '';
        if (m.argv && m.argv.length > 1) c.target += '(' + m.argv.slice(1).join(',') + ')';
        if (m.options) c.target += ', ' + m.options;
        c.sess = 'in script';
        break;
      case 'line':
        line(c, m.sent ? 'to' : 'from', m.line, m.timestamp);
        break;
      case 'playback':
        if (m.started) {
          c.sess = 'playing ' + m.file;
          note(c, 'playing ' + m.file, m.timestamp);
        } else {
          if (c.sess === 'playing ' + m.file) c.sess = 'in script';
          note(c, (m.interrupted ? 'stopped ' : 'played ') + m.file, m.timestamp);
        }
        break;
      case 'ended':
        c.status = m.status || '';
        end(c, m.served ? 'ended' : 'refused', m.cause || '');
        break;
    }
    render(c);
  }

  function end(c, state, cause) {
    c.state = state;
    c.sess = '';
    if (cause) c.cause = cause;
    c.endedAt = Date.now();
    render(c);
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function build(id) {
    const art = el('article', 'call');
    art.dataset.channel = id;
    const h = el('h2');
    h.append(el('span', 'name'), el('span', 'caller'), el('span', 'state'));
    art.append(h, el('div', 'meta'), el('div', 'cause'), el('ol', 'lines'));
    $('calls').append(art);
    return art;
  }

  function render(c) {
    const art = c.el;
    art.dataset.state = c.state;
    art.classList.toggle('ended', c.state === 'ended');
    art.classList.toggle('refused', c.state === 'refused');
    art.querySelector('.name').textContent = c.name || c.id;
    let caller = c.callerNum;
    if (c.callerName) caller = '"' + c.callerName + '" <' + c.callerNum + '>';
    art.querySelector('.caller').textContent = caller;
    let state = c.state;
    if (!c.endedAt) state = [c.chanState, c.hold ? 'on hold' : '', c.sess].filter(Boolean).join(' · ') || 'live';
    art.querySelector('.state').textContent = state;
    const meta = [];
    if (c.target) meta.push(c.target);
    if (c.app) meta.push('app ' + c.app);
    if (c.status) meta.push('EIVRGW_STATUS=' + c.status);
    art.querySelector('.meta').textContent = meta.join(' · ');
    art.querySelector('.cause').textContent = c.cause;
  }

  function stamp(ts) {
    const d = ts ? new Date(ts.replace(/([+-]\d\d)(\d\d)$/, '$1:$2')) : new Date();
    if (isNaN(d)) return '';
    return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  function line(c, dir, text, ts) {
    const ol = c.el.querySelector('.lines');
    const atEnd = ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 4;
    const li = el('li', dir);
    li.dataset.dir = dir;
    li.append(el('time', '', stamp(ts)), el('span', 'dir', { to: '→', from: '←', note: '·' }[dir]), el('code', 'text', text));
    ol.append(li);
    while (ol.children.length > MAX_LINES) ol.firstElementChild.remove();
    if (atEnd) ol.scrollTop = ol.scrollHeight;
  }

  function note(c, text, ts) { line(c, 'note', text, ts); }

  function remove(id) {
    const c = calls.get(id);
    if (!c) return;
    c.el.remove();
    calls.delete(id);
  }

  // At most MAX_CALLS: the oldest ended call goes first, then the oldest.
  function bound() {
    while (calls.size > MAX_CALLS) {
      let victim = calls.keys().next().value;
      for (const [id, c] of calls) if (c.endedAt) { victim = id; break; }
      remove(victim);
    }
  }

  // Ended calls linger, then go.
  setInterval(() => {
    const now = Date.now();
    for (const [id, c] of calls) if (c.endedAt && now - c.endedAt >= LINGER) remove(id);
    $('empty').hidden = calls.size > 0;
  }, 500);

  connect();
})();
