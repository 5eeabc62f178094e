// The "coba" chat page: talk to the real bot through the local Bot API emulator.
// Vanilla JS, no build step. Message text is never parsed as HTML: every message is built
// from its plain text and its entities (UTF-16 offsets, like JS strings) as DOM nodes.
"use strict";

(() => {
  const WIB_OFFSET_S = 7 * 3600;
  const LONG_POLL_S = 25;
  const CHATS_CHECK_MS = 5000;
  const ANSWER_WAIT_MS = 10000;

  // ------------------------------------------------------------------ page chrome texts
  const TEXTS = {
    id: {
      appTitle: "Coba bot tanpa Telegram",
      appSubtitle: "Data demo, hanya di komputer ini",
      pickerTitle: "Pilih siapa Anda",
      loading: "Memuat…",
      about:
        "Setiap orang punya obrolannya sendiri dengan bot. Obrolan tetap ada selama program ini berjalan.",
      skip: "Langsung ke kotak pesan",
      botLabel: "bot",
      youAre: "Anda: {name}",
      emptyChoose: "Pilih seseorang untuk mulai mengobrol dengan bot.",
      emptyChat: "Belum ada pesan. Kirim {cmd} untuk mulai.",
      hint: "Kirim {cmd}, lalu ketuk Bagikan nomor HP",
      menuTitle: "Perintah",
      menu: "Menu",
      noCommands: "Belum ada perintah.",
      attach: "Lampirkan berkas CSV/XLSX",
      messageLabel: "Pesan",
      placeholder: "Tulis pesan…",
      send: "Kirim",
      replyKeyboard: "Tombol balasan",
      ok: "OK",
      roles: { asn: "ASN", supervisor: "Atasan", hr_admin: "Admin BKPSDM" },
      linked: "Akun tertaut",
      notLinked: "Belum tertaut",
      newMessages: "ada pesan baru",
      today: "Hari ini",
      yesterday: "Kemarin",
      months: ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
        "September", "Oktober", "November", "Desember"],
      days: ["Minggu", "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu"],
      edited: "diedit",
      photo: "Foto",
      contact: "Kontak",
      voice: "Pesan suara",
      download: "Unduh {name}",
      sendFailed: "Gagal mengirim: {error}",
      reconnecting: "menyambung ulang…",
      uploading: "Mengirim {name}…",
      unsupportedButton: "Tombol ini tidak bisa dipakai di halaman coba.",
      deletedReply: "Pesan dihapus",
      scenarios: {
        asn_in_mutation: "Mutasinya sedang diproses — coba {cmd}",
        supervisor: "Penilaian bawahan menunggu — coba {cmd}",
        hr_admin: "Mengelola data kepegawaian — coba {cmd}",
        asn_new_in_unit: "Baru pindah ke unit ini — coba {cmd}",
      },
    },
    en: {
      appTitle: "Try the bot without Telegram",
      appSubtitle: "Demo data, only on this computer",
      pickerTitle: "Choose who you are",
      loading: "Loading…",
      about:
        "Each person has their own chat with the bot. Chats are kept while this program runs.",
      skip: "Skip to the message box",
      botLabel: "bot",
      youAre: "You: {name}",
      emptyChoose: "Choose someone to start chatting with the bot.",
      emptyChat: "No messages yet. Send {cmd} to begin.",
      hint: "Send {cmd}, then tap Share my phone number",
      menuTitle: "Commands",
      menu: "Menu",
      noCommands: "No commands yet.",
      attach: "Attach a CSV/XLSX file",
      messageLabel: "Message",
      placeholder: "Write a message…",
      send: "Send",
      replyKeyboard: "Reply buttons",
      ok: "OK",
      roles: { asn: "ASN", supervisor: "Supervisor", hr_admin: "BKPSDM admin" },
      linked: "Account linked",
      notLinked: "Not linked yet",
      newMessages: "new messages",
      today: "Today",
      yesterday: "Yesterday",
      months: ["January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December"],
      days: ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
      edited: "edited",
      photo: "Photo",
      contact: "Contact",
      voice: "Voice message",
      download: "Download {name}",
      sendFailed: "Could not send: {error}",
      reconnecting: "reconnecting…",
      uploading: "Sending {name}…",
      unsupportedButton: "This button cannot be used on the try-out page.",
      deletedReply: "Deleted message",
      scenarios: {
        asn_in_mutation: "A transfer in progress — try {cmd}",
        supervisor: "Staff evaluations waiting — try {cmd}",
        hr_admin: "Manages the staff records — try {cmd}",
        asn_new_in_unit: "Just moved to this unit — try {cmd}",
      },
    },
  };
  const SCENARIO_COMMANDS = {
    asn_in_mutation: "/status",
    supervisor: "/nilai",
    hr_admin: "/hr_umumkan",
    asn_new_in_unit: "/saya",
  };

  // ------------------------------------------------------------------ state
  const S = {
    lang: "id",
    botName: "",
    personas: [],
    byKey: new Map(),
    current: null, // persona key
    chats: new Map(), // key -> {version, messages: Map(id -> view), scrollTop, atBottom, unread}
    view: null, // {key, els: Map(id -> {el, sig}), lastDay}
    poll: null, // AbortController of the running long poll
    offline: false,
    commands: [],
    menuByTyping: false,
    toastTimer: 0,
    refreshTimers: [],
  };

  const $ = (selector) => document.querySelector(selector);
  const el = {};

  function t(key, vars) {
    const table = TEXTS[S.lang] || TEXTS.id;
    let text = table[key] !== undefined ? table[key] : TEXTS.id[key];
    if (typeof text === "string" && vars) {
      for (const [name, value] of Object.entries(vars)) text = text.replace(`{${name}}`, value);
    }
    return text;
  }

  // A text with "{cmd}" where a button sending that command goes.
  function withCommand(template, command) {
    const [before, after = ""] = template.split("{cmd}");
    const frag = document.createDocumentFragment();
    frag.append(before, commandLink(command), after);
    return frag;
  }

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); });
    });
  }

  async function api(path, options = {}) {
    const init = { method: options.method || "GET", cache: "no-store", signal: options.signal };
    if (options.body !== undefined) {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error((data && (data.error || data.description)) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  const currentPersona = () => (S.current ? S.byKey.get(S.current) : null);

  function chatState(key) {
    let chat = S.chats.get(key);
    if (!chat) {
      chat = { version: -1, messages: new Map(), scrollTop: 0, atBottom: true, unread: false };
      S.chats.set(key, chat);
    }
    return chat;
  }

  // ------------------------------------------------------------------ time (WIB)
  function wib(date) {
    return new Date((date + WIB_OFFSET_S) * 1000); // read with getUTC*
  }
  const pad = (n) => String(n).padStart(2, "0");
  const clock = (date) => {
    const d = wib(date);
    return `${pad(d.getUTCHours())}.${pad(d.getUTCMinutes())}`;
  };
  const dayKey = (date) => Math.floor((date + WIB_OFFSET_S) / 86400);

  function dayLabel(date) {
    const today = dayKey(Date.now() / 1000);
    const day = dayKey(date);
    if (day === today) return t("today");
    if (day === today - 1) return t("yesterday");
    const d = wib(date);
    return `${d.getUTCDate()} ${t("months")[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  }

  function fullDate(date) {
    const d = wib(date);
    return `${t("days")[d.getUTCDay()]}, ${d.getUTCDate()} ${t("months")[d.getUTCMonth()]} ` +
      `${d.getUTCFullYear()} ${clock(date)} WIB`;
  }

  // ------------------------------------------------------------------ entities -> DOM
  const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:", "tel:", "tg:"]);

  function safeHref(raw) {
    if (!raw) return null;
    let candidate = raw.trim();
    if (!/^[a-z][a-z0-9+.-]*:/i.test(candidate)) candidate = `https://${candidate}`;
    try {
      const url = new URL(candidate);
      return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function link(href) {
    return href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }) : h("span");
  }

  function commandLink(command) {
    return h("button", {
      type: "button",
      class: "cmd-link",
      "data-send": command,
      text: command,
    });
  }

  function entityNode(entity, text, fromBot) {
    switch (entity.type) {
      case "bold": return h("b");
      case "italic": return h("i");
      case "underline": return h("u");
      case "strikethrough": return h("s");
      case "code": return h("code");
      case "pre": {
        const node = h("pre");
        if (entity.language) node.dataset.language = entity.language;
        return node;
      }
      case "blockquote":
      case "expandable_blockquote": return h("blockquote");
      case "spoiler": return h("span", { class: "spoiler", tabindex: "0", role: "button" });
      case "text_link": return link(safeHref(entity.url));
      case "url": return link(safeHref(text));
      case "email": return link(safeHref(`mailto:${text}`));
      case "phone_number": return link(safeHref(`tel:${text.replace(/[^+\d]/g, "")}`));
      case "bot_command":
        if (fromBot) return commandLink(text.split("@")[0]);
        return h("span", { class: "cmd" });
      case "mention":
      case "text_mention":
      case "hashtag":
      case "cashtag": return h("span", { class: "mention" });
      default: return h("span");
    }
  }

  // Build [from, to) of ``text`` into ``parent``; ``entities`` are sorted and inside it.
  function buildRange(parent, text, from, to, entities, fromBot) {
    let pos = from;
    let i = 0;
    while (i < entities.length) {
      const entity = entities[i];
      const start = Math.max(entity.offset, pos);
      const end = Math.min(entity.offset + entity.length, to);
      let j = i + 1;
      const inner = [];
      while (j < entities.length && entities[j].offset < end) {
        const child = entities[j];
        const childEnd = Math.min(child.offset + child.length, end);
        if (childEnd > child.offset) {
          inner.push({ ...child, length: childEnd - child.offset });
        }
        j += 1;
      }
      if (end > start) {
        if (start > pos) parent.append(text.slice(pos, start));
        const node = entityNode(entity, text.slice(start, end), fromBot);
        if (node.classList.contains("cmd-link")) {
          // A clickable command: its label is its own text, nothing nested.
          node.textContent = text.slice(start, end);
        } else {
          buildRange(node, text, start, end, inner, fromBot);
        }
        parent.append(node);
        pos = end;
      }
      i = j;
    }
    if (to > pos) parent.append(text.slice(pos, to));
  }

  // Commands and web addresses in the bot's texts are clickable, as Telegram shows them.
  const DETECTED = [
    ["bot_command", /(?<![\w/<>])\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@/<>])/g],
    ["url", /\bhttps?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]]/g],
  ];

  function detectedEntities(text, entities) {
    const spans = entities.map((e) => [e.offset, e.offset + e.length]);
    const found = [];
    for (const [type, pattern] of DETECTED) {
      for (const match of text.matchAll(pattern)) {
        const start = match.index;
        const end = start + match[0].length;
        if (!spans.some(([a, b]) => start < b && a < end)) {
          found.push({ type, offset: start, length: end - start });
          spans.push([start, end]);
        }
      }
    }
    return found;
  }

  function renderEntities(text, entities, fromBot) {
    const frag = document.createDocumentFragment();
    let given = Array.isArray(entities) ? entities : [];
    if (fromBot) {
      // Only formatting that cannot hold a link may surround a detected command.
      const blocking = given.filter((e) => !["bold", "italic", "underline"].includes(e.type));
      given = given.concat(detectedEntities(text, blocking));
    }
    const sorted = given
      .filter((e) => e && Number.isInteger(e.offset) && Number.isInteger(e.length) && e.length > 0)
      .filter((e) => e.offset >= 0 && e.offset < text.length)
      .map((e) => ({ ...e, length: Math.min(e.length, text.length - e.offset) }))
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    buildRange(frag, text, 0, text.length, sorted, fromBot);
    return frag;
  }

  // ------------------------------------------------------------------ messages
  function fileUrl(fileId) {
    return `/_emulator/files/${encodeURIComponent(fileId)}`;
  }

  function formatSize(bytes) {
    if (!Number.isFinite(bytes)) return "";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, "")} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, "")} MB`;
  }

  function signature(m) {
    return JSON.stringify([
      m.plain_text, m.entities, m.plain_caption, m.caption_entities, m.reply_markup,
      m.edit_date, m.document && m.document.file_id, m.photo && m.photo.length && m.photo[0].file_id,
      m.contact, m.sticker, m.voice, m.reply_to_message_id, S.lang,
    ]);
  }

  function messageSnippet(m) {
    if (!m || m.deleted) return t("deletedReply");
    const text = m.plain_text || m.plain_caption;
    if (text) return text.split("\n")[0].slice(0, 90);
    if (m.document) return `📄 ${m.document.file_name || ""}`;
    if (m.photo) return `🖼 ${t("photo")}`;
    if (m.contact) return `📱 ${t("contact")}`;
    return "…";
  }

  function messageBody(m) {
    const parts = [];
    const chat = chatState(S.current);
    if (m.reply_to_message_id) {
      parts.push(h("div", { class: "msg-reply", text: messageSnippet(chat.messages.get(m.reply_to_message_id)) }));
    }
    if (m.photo && m.photo.length) {
      const size = m.photo[m.photo.length - 1];
      const src = fileUrl(size.file_id);
      parts.push(h("a", { class: "msg-photo-link", href: src, target: "_blank", rel: "noopener" },
        h("img", {
          class: "msg-photo",
          src,
          alt: m.plain_caption || t("photo"),
          width: size.width > 1 ? size.width : null,
          height: size.height > 1 ? size.height : null,
          loading: "lazy",
          decoding: "async",
        })));
    }
    if (m.document) {
      const name = m.document.file_name || "file";
      const ext = (name.includes(".") ? name.split(".").pop() : "file").slice(0, 4).toUpperCase();
      parts.push(h("a", {
        // The bot's documents are "msg-document"; the person's own uploads look the same.
        class: m.from_bot ? "msg-document" : "msg-document-own",
        href: fileUrl(m.document.file_id),
        download: name,
        title: t("download", { name }),
      },
      h("span", { class: "doc-icon", "aria-hidden": "true", text: ext }),
      h("span", { class: "doc-text" },
        h("span", { class: "doc-name", text: name }),
        h("span", { class: "doc-size", text: formatSize(m.document.file_size) }))));
    }
    let textNode = null;
    if (typeof m.plain_text === "string" && m.plain_text !== "") {
      textNode = h("div", { class: "msg-text" }, renderEntities(m.plain_text, m.entities, m.from_bot));
    } else if (typeof m.plain_caption === "string" && m.plain_caption !== "") {
      textNode = h("div", { class: "msg-text" },
        renderEntities(m.plain_caption, m.caption_entities, m.from_bot));
    } else if (m.contact) {
      const name = [m.contact.first_name, m.contact.last_name].filter(Boolean).join(" ");
      textNode = h("div", { class: "msg-text msg-contact" },
        h("span", { class: "contact-icon", "aria-hidden": "true", text: "📱" }),
        h("span", {}, h("b", { text: name || t("contact") }), "\n", m.contact.phone_number || ""));
    } else if (m.sticker) {
      textNode = h("div", { class: "msg-text msg-sticker", text: m.sticker.emoji || "🙂" });
    } else if (m.voice) {
      const secs = m.voice.duration || 0;
      textNode = h("div", { class: "msg-text", text: `🎤 ${t("voice")} ${Math.floor(secs / 60)}:${pad(secs % 60)}` });
    }
    const meta = h("span", { class: "msg-meta" },
      m.edit_date ? h("span", { class: "msg-edited", text: t("edited") }) : null,
      h("time", { class: "msg-time", datetime: new Date(m.date * 1000).toISOString(), title: fullDate(m.date), text: clock(m.date) }));
    if (textNode) {
      textNode.append(h("span", { class: "meta-spacer", "aria-hidden": "true" }));
      parts.push(textNode);
    }
    parts.push(meta);
    const bubble = h("div", { class: "bubble" }, ...parts);
    if (!textNode) bubble.classList.add("media-only");
    const out = [bubble];
    const markup = m.reply_markup;
    if (m.from_bot && markup && Array.isArray(markup.inline_keyboard)) {
      out.push(inlineKeyboard(m, markup.inline_keyboard));
    }
    return out;
  }

  function inlineKeyboard(m, rows) {
    const box = h("div", { class: "inline-keyboard" });
    for (const row of rows) {
      const line = h("div", { class: "ik-row" });
      for (const button of row) {
        let node;
        if (typeof button.callback_data === "string") {
          node = h("button", {
            type: "button",
            class: "inline-btn",
            "data-callback": button.callback_data,
            "data-message": m.message_id,
            text: button.text,
          });
        } else if (button.url) {
          node = h("a", {
            class: "inline-btn inline-url",
            href: safeHref(button.url) || "#",
            target: "_blank",
            rel: "noopener noreferrer",
            text: button.text,
          });
        } else {
          node = h("button", {
            type: "button",
            class: "inline-btn inline-unsupported",
            "aria-disabled": "true",
            "data-unsupported": "1",
            text: button.text,
          });
        }
        line.append(node);
      }
      box.append(line);
    }
    return box;
  }

  function fillMessage(node, m) {
    node.replaceChildren(...messageBody(m));
    node.classList.toggle("edited", Boolean(m.edit_date));
  }

  function daySeparator(date) {
    return h("div", { class: "day-separator", "data-date": date },
      h("span", { text: dayLabel(date) }));
  }

  function sortedMessages(chat) {
    return [...chat.messages.values()].sort((a, b) => a.message_id - b.message_id);
  }

  function isAtBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 48;
  }

  function scrollToBottom() {
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function renderMessages(options = {}) {
    const key = S.current;
    if (!key) return;
    const chat = chatState(key);
    const box = el.messages;
    let fresh = false;
    if (!S.view || S.view.key !== key) {
      box.replaceChildren();
      S.view = { key, els: new Map(), lastDay: null };
      fresh = true;
    }
    const view = S.view;
    const wasAtBottom = isAtBottom(box);
    const visible = sortedMessages(chat).filter((m) => !m.deleted);
    const present = new Set(visible.map((m) => m.message_id));
    for (const [id, entry] of view.els) {
      if (!present.has(id)) {
        entry.el.remove();
        view.els.delete(id);
      }
    }
    let userSent = false;
    for (const m of visible) {
      const sig = signature(m);
      const entry = view.els.get(m.message_id);
      if (entry) {
        if (entry.sig !== sig) {
          fillMessage(entry.el, m);
          entry.sig = sig;
        }
        continue;
      }
      const day = dayKey(m.date);
      if (day !== view.lastDay) {
        box.append(daySeparator(m.date));
        view.lastDay = day;
      }
      const node = h("div", {
        class: "msg",
        "data-message-id": m.message_id,
        "data-from": m.from_bot ? "bot" : "user",
      });
      fillMessage(node, m);
      box.append(node);
      view.els.set(m.message_id, { el: node, sig });
      if (!m.from_bot && !fresh) userSent = true;
    }
    renderReplyKeyboard();
    renderEmpty();
    if (fresh) {
      if (chat.atBottom) scrollToBottom();
      else box.scrollTop = chat.scrollTop;
    } else if (options.forceScroll || wasAtBottom || userSent) {
      scrollToBottom();
    }
  }

  function renderEmpty() {
    const persona = currentPersona();
    const emptyChat = persona && S.view && S.view.els.size === 0 && chatState(S.current).version >= 0;
    if (!persona) {
      el.emptyText.replaceChildren(t("emptyChoose"));
      el.empty.hidden = false;
    } else if (emptyChat) {
      el.emptyText.replaceChildren(withCommand(t("emptyChat"), "/start"));
      el.empty.hidden = false;
    } else {
      el.empty.hidden = true;
    }
  }

  // ------------------------------------------------------------------ reply keyboard
  function activeReplyKeyboard(chat) {
    let keyboard = null;
    let keyboardId = 0;
    const all = sortedMessages(chat);
    for (const m of all) {
      const markup = m.from_bot ? m.reply_markup : null;
      if (!markup) continue;
      if (Array.isArray(markup.keyboard)) {
        keyboard = markup;
        keyboardId = m.message_id;
      } else if (markup.remove_keyboard) {
        keyboard = null;
      }
    }
    if (keyboard && keyboard.one_time_keyboard) {
      // Hidden once used, as Telegram does (the bot sends it again when it needs it).
      const labels = new Set(keyboard.keyboard.flat().map((b) => (typeof b === "string" ? b : b.text)));
      const used = all.some((m) => !m.from_bot && m.message_id > keyboardId &&
        (m.contact || labels.has(m.plain_text)));
      if (used) keyboard = null;
    }
    return keyboard;
  }

  function renderReplyKeyboard() {
    const box = el.replyKeyboard;
    const keyboard = S.current ? activeReplyKeyboard(chatState(S.current)) : null;
    const signatureNow = keyboard ? JSON.stringify(keyboard) + S.current : "";
    if (box.dataset.sig === signatureNow) return;
    box.dataset.sig = signatureNow;
    box.replaceChildren();
    if (!keyboard) {
      box.hidden = true;
      updatePlaceholder(null);
      return;
    }
    let contactDone = false;
    for (const row of keyboard.keyboard) {
      const line = h("div", { class: "rk-row" });
      for (const raw of row) {
        const button = typeof raw === "string" ? { text: raw } : raw;
        let node;
        if (button.request_contact && !contactDone) {
          contactDone = true;
          node = h("button", { type: "button", id: "share-contact", class: "reply-key contact-key", text: button.text });
          node.addEventListener("click", () => shareContact(node));
        } else {
          node = h("button", { type: "button", class: "reply-btn reply-key", text: button.text });
          node.addEventListener("click", () => sendText(button.text));
        }
        line.append(node);
      }
      box.append(line);
    }
    box.hidden = false;
    updatePlaceholder(keyboard.input_field_placeholder || null);
  }

  function updatePlaceholder(fromKeyboard) {
    el.input.placeholder = fromKeyboard || t("placeholder");
  }

  // ------------------------------------------------------------------ polling
  function applyChat(key, data) {
    const chat = chatState(key);
    const before = chat.messages;
    let botChanged = false;
    const next = new Map();
    for (const m of data.messages) {
      next.set(m.message_id, m);
      const old = before.get(m.message_id);
      if (m.from_bot && (!old || old.edit_date !== m.edit_date || old.deleted !== m.deleted)) {
        botChanged = true;
      }
    }
    const firstLoad = chat.version < 0;
    chat.messages = next;
    chat.version = data.version;
    if (key === S.current) {
      renderMessages();
    }
    if (botChanged && !firstLoad) scheduleRefresh();
  }

  function startPolling(key) {
    stopPolling();
    const controller = new AbortController();
    S.poll = controller;
    pollLoop(key, controller);
  }

  function stopPolling() {
    if (S.poll) S.poll.abort();
    S.poll = null;
  }

  async function pollLoop(key, controller) {
    const persona = S.byKey.get(key);
    const chat = chatState(key);
    let failures = 0;
    while (!controller.signal.aborted) {
      const since = chat.version;
      const query = since >= 0 ? `?since=${since}&wait=${LONG_POLL_S}` : "";
      try {
        const data = await api(`/_emulator/chats/${persona.user_id}/messages${query}`, {
          signal: controller.signal,
        });
        if (controller.signal.aborted) return;
        failures = 0;
        setOffline(false);
        if (since < 0 || data.version !== since) applyChat(key, data);
      } catch (error) {
        if (controller.signal.aborted) return;
        failures += 1;
        if (failures > 1) setOffline(true);
        await sleep(Math.min(5000, 400 * failures), controller.signal);
      }
    }
  }

  function setOffline(offline) {
    if (S.offline === offline) return;
    S.offline = offline;
    renderSubtitle();
  }

  // Other people's chats: a dot on their button when something new arrived.
  async function checkOtherChats() {
    try {
      const chats = await api("/_emulator/chats");
      const versions = new Map(chats.map((c) => [c.id, c.version]));
      for (const persona of S.personas) {
        if (persona.key === S.current) continue;
        const version = versions.get(persona.user_id) || 0;
        const chat = chatState(persona.key);
        // What was there before this page opened is not news.
        if (chat.seen === undefined) chat.seen = version;
        const unread = version > Math.max(chat.version, chat.seen);
        if (unread !== chat.unread) {
          chat.unread = unread;
          renderPersonas();
        }
      }
    } catch (_) {
      // the next check will tell
    }
  }

  // After the bot said something: the person may be linked now, or chose another language,
  // and the bot may have set another command menu.
  function scheduleRefresh() {
    for (const timer of S.refreshTimers) clearTimeout(timer);
    S.refreshTimers = [300, 1500].map((ms) => setTimeout(() => {
      refreshPersonas();
      refreshCommands();
    }, ms));
  }

  // ------------------------------------------------------------------ personas
  async function refreshPersonas() {
    try {
      const data = await api("/coba/api/personas");
      S.botName = (data.bot && data.bot.name) || S.botName;
      S.personas = data.personas || [];
      S.byKey = new Map(S.personas.map((p) => [p.key, p]));
      el.chatTitle.textContent = S.botName;
      document.title = `Coba · ${S.botName}`;
      const persona = currentPersona();
      const lang = persona && TEXTS[persona.language] ? persona.language : S.lang;
      if (lang !== S.lang) applyLanguage(lang);
      else {
        renderPersonas();
        renderHint();
      }
    } catch (_) {
      // keep what is shown
    }
  }

  function initials(name) {
    const words = name.split(",")[0].split(/\s+/).filter(Boolean);
    return ((words[0] || "?")[0] + (words.length > 1 ? words[words.length - 1][0] : "")).toUpperCase();
  }

  function renderPersonas() {
    const box = el.personas;
    box.querySelectorAll(".personas-loading").forEach((n) => n.remove());
    const wanted = new Set(S.personas.map((p) => p.key));
    box.querySelectorAll("button[data-persona]").forEach((b) => {
      if (!wanted.has(b.dataset.persona)) b.remove();
    });
    for (const persona of S.personas) {
      let button = box.querySelector(`button[data-persona="${CSS.escape(persona.key)}"]`);
      if (!button) {
        button = h("button", { type: "button", class: "persona", "data-persona": persona.key });
        button.addEventListener("click", () => selectPersona(persona.key));
        box.append(button);
      }
      const roles = t("roles");
      const chat = chatState(persona.key);
      const scenario = t("scenarios")[persona.key];
      const detail = [persona.position, persona.unit].filter(Boolean).join(" · ");
      button.setAttribute("aria-pressed", String(persona.key === S.current));
      button.dataset.role = persona.role;
      button.replaceChildren(
        h("span", { class: "p-avatar", "aria-hidden": "true", text: initials(persona.name) }),
        h("span", { class: "p-main" },
          h("span", { class: "p-top" },
            h("span", { class: "p-name", text: persona.name }),
            h("span", { class: `p-role role-${persona.role}`, text: roles[persona.role] || persona.role })),
          h("span", { class: "p-detail", text: detail, title: detail }),
          h("span", { class: `p-link ${persona.linked ? "is-linked" : "not-linked"}`, text: persona.linked ? t("linked") : t("notLinked") }),
          scenario && SCENARIO_COMMANDS[persona.key]
            ? h("span", { class: "p-scenario", text: scenario.replace("{cmd}", SCENARIO_COMMANDS[persona.key]) })
            : null),
      );
      if (chat.unread && persona.key !== S.current) {
        button.append(h("span", { class: "p-unread" },
          h("span", { class: "visually-hidden", text: t("newMessages") })));
      }
    }
  }

  function renderHint() {
    const persona = currentPersona();
    if (!persona || persona.linked) {
      el.hint.hidden = true;
      el.hint.replaceChildren();
      return;
    }
    el.hint.replaceChildren(
      h("span", { class: "hint-icon", "aria-hidden": "true", text: "💡" }),
      h("span", {}, withCommand(t("hint"), "/start")),
    );
    el.hint.hidden = false;
  }

  function renderSubtitle() {
    const persona = currentPersona();
    const parts = [t("botLabel")];
    if (persona) parts.push(t("youAre", { name: persona.name.split(",")[0] }));
    if (S.offline) parts.push(t("reconnecting"));
    el.chatSubtitle.textContent = parts.join(" · ");
    el.chatSubtitle.classList.toggle("offline", S.offline);
  }

  // The chosen person's button in view: centred in the row of people on a phone.
  function revealPersona(key) {
    const button = el.personas.querySelector(`button[data-persona="${CSS.escape(key)}"]`);
    if (!button) return;
    const box = el.personas;
    if (box.scrollWidth > box.clientWidth) {
      box.scrollLeft = button.offsetLeft - (box.clientWidth - button.offsetWidth) / 2;
    } else {
      button.scrollIntoView({ block: "nearest" });
    }
  }

  function selectPersona(key) {
    const persona = S.byKey.get(key);
    if (!persona) return;
    if (S.current && S.current !== key) {
      const previous = chatState(S.current);
      previous.scrollTop = el.messages.scrollTop;
      previous.atBottom = isAtBottom(el.messages);
    }
    const switching = S.current !== key;
    S.current = key;
    chatState(key).unread = false;
    document.body.classList.remove("no-persona");
    if (location.hash !== `#${key}`) history.replaceState(null, "", `#${key}`);
    closeMenu();
    hideToast();
    for (const node of [el.input, el.send, el.menuButton, el.attachButton]) node.disabled = false;
    if (TEXTS[persona.language] && persona.language !== S.lang) applyLanguage(persona.language);
    else {
      renderPersonas();
      renderHint();
      renderSubtitle();
    }
    if (switching) {
      S.view = null;
      el.replyKeyboard.dataset.sig = "-";
      renderMessages();
      renderMenu();
      startPolling(key);
      refreshCommands();
    }
    revealPersona(key);
    if (window.matchMedia("(pointer: fine)").matches) el.input.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ language
  function applyLanguage(lang) {
    S.lang = TEXTS[lang] ? lang : "id";
    document.documentElement.lang = S.lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
    renderPersonas();
    renderHint();
    renderSubtitle();
    renderMenu();
    if (S.view) {
      // Same elements, texts of the chrome in the new language ("edited", day names).
      for (const node of el.messages.querySelectorAll(".day-separator")) {
        node.firstChild.textContent = dayLabel(Number(node.dataset.date));
      }
      el.replyKeyboard.dataset.sig = "-";
      renderMessages();
    } else {
      renderEmpty();
    }
  }

  // ------------------------------------------------------------------ command menu
  async function refreshCommands() {
    try {
      S.commands = await api("/_emulator/commands");
      renderMenu();
    } catch (_) {
      // keep the last menu
    }
  }

  function menuCommands() {
    const persona = currentPersona();
    if (!persona) return [];
    const lang = persona.language || "";
    const scopes = [
      (s) => s.type === "chat" && Number(s.chat_id) === persona.user_id,
      (s) => s.type === "all_private_chats",
      (s) => s.type === "default",
    ];
    for (const matches of scopes) {
      for (const code of lang ? [lang, ""] : [""]) {
        const entry = S.commands.find((e) => e.scope && matches(e.scope) && (e.language_code || "") === code);
        if (entry) return entry.commands;
      }
    }
    return [];
  }

  function renderMenu() {
    const typed = el.input.value.trim();
    const filter = S.menuByTyping && typed.startsWith("/") ? typed.slice(1).toLowerCase() : "";
    const commands = menuCommands().filter((c) => c.command.toLowerCase().startsWith(filter));
    const list = el.menuList;
    list.replaceChildren();
    for (const c of commands) {
      const item = h("button", { type: "button", class: "menu-item", "data-command": c.command },
        h("span", { class: "menu-cmd", text: `/${c.command}` }),
        h("span", { class: "menu-desc", text: c.description }));
      item.addEventListener("click", () => {
        closeMenu();
        el.input.value = "";
        sendText(`/${c.command}`);
        el.input.focus({ preventScroll: true });
      });
      list.append(item);
    }
    if (!commands.length) list.append(h("p", { class: "menu-empty", text: t("noCommands") }));
    if (S.menuByTyping && !commands.length) closeMenu();
  }

  function openMenu(byTyping) {
    S.menuByTyping = byTyping;
    renderMenu();
    if (byTyping && !el.menuList.querySelector(".menu-item")) return;
    el.menu.hidden = false;
    el.menu.classList.toggle("typing", byTyping);
    el.menuButton.setAttribute("aria-expanded", "true");
  }

  function closeMenu() {
    el.menu.hidden = true;
    S.menuByTyping = false;
    el.menuButton.setAttribute("aria-expanded", "false");
  }

  // ------------------------------------------------------------------ toast
  function showToast(text, alert) {
    clearTimeout(S.toastTimer);
    el.toastText.textContent = text;
    el.toast.classList.toggle("alert", Boolean(alert));
    el.toast.setAttribute("role", alert ? "alertdialog" : "status");
    if (alert) el.toast.setAttribute("aria-labelledby", "toast-text");
    else el.toast.removeAttribute("aria-labelledby");
    el.toastClose.hidden = !alert;
    el.toast.hidden = false;
    if (alert) {
      el.toastClose.focus({ preventScroll: true });
    } else {
      S.toastTimer = setTimeout(hideToast, Math.min(8000, 2500 + text.length * 45));
    }
  }

  function hideToast() {
    clearTimeout(S.toastTimer);
    const hadFocus = el.toast.contains(document.activeElement);
    el.toast.hidden = true;
    if (hadFocus && !el.input.disabled) el.input.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ sending
  async function sendText(text) {
    const persona = currentPersona();
    if (!persona || !text.trim()) return false;
    try {
      await api("/_emulator/messages", { method: "POST", body: { user_id: persona.user_id, text } });
      chatState(persona.key).atBottom = true;
      return true;
    } catch (error) {
      showToast(t("sendFailed", { error: error.message }), false);
      return false;
    }
  }

  async function shareContact(button) {
    const persona = currentPersona();
    if (!persona) return;
    button.disabled = true;
    try {
      await api("/_emulator/contacts", {
        method: "POST",
        body: { user_id: persona.user_id, phone_number: persona.phone, first_name: persona.first_name },
      });
    } catch (error) {
      showToast(t("sendFailed", { error: error.message }), false);
    } finally {
      button.disabled = false;
    }
  }

  async function pressInline(button) {
    const persona = currentPersona();
    if (!persona || button.classList.contains("pending")) return;
    if (button.dataset.unsupported) {
      showToast(t("unsupportedButton"), false);
      return;
    }
    const key = persona.key;
    button.classList.add("pending");
    button.setAttribute("aria-busy", "true");
    try {
      const pressed = await api("/_emulator/callback_queries", {
        method: "POST",
        body: {
          user_id: persona.user_id,
          message_id: Number(button.dataset.message),
          data: button.dataset.callback,
        },
      });
      const answer = await waitForAnswer(persona.user_id, pressed.callback_query_id);
      if (answer && answer.text && S.current === key) showToast(answer.text, answer.show_alert);
    } catch (error) {
      if (S.current === key) showToast(t("sendFailed", { error: error.message }), false);
    } finally {
      button.classList.remove("pending");
      button.removeAttribute("aria-busy");
    }
  }

  async function waitForAnswer(chatId, queryId) {
    const until = Date.now() + ANSWER_WAIT_MS;
    let delay = 120;
    while (Date.now() < until) {
      const records = await api(`/_emulator/callback_answers?chat_id=${chatId}`);
      const record = records.find((r) => r.callback_query_id === queryId);
      if (record && record.answered) return record.answer;
      await sleep(delay);
      delay = Math.min(delay * 1.5, 500);
    }
    return null;
  }

  const MIME_BY_EXTENSION = {
    csv: "text/csv",
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  };

  function readBase64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
      reader.onerror = () => reject(reader.error || new Error("read failed"));
      reader.readAsDataURL(file);
    });
  }

  async function sendFile(file) {
    const persona = currentPersona();
    if (!persona) return;
    const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    const mime = MIME_BY_EXTENSION[extension] || file.type || "application/octet-stream";
    showToast(t("uploading", { name: file.name }), false);
    try {
      const content = await readBase64(file);
      await api("/_emulator/documents", {
        method: "POST",
        body: { user_id: persona.user_id, file_name: file.name, mime_type: mime, content },
      });
      chatState(persona.key).atBottom = true;
      hideToast();
    } catch (error) {
      showToast(t("sendFailed", { error: error.message }), false);
    }
  }

  // ------------------------------------------------------------------ wiring
  function wire() {
    el.messages = $("#messages");
    el.personas = $("#personas");
    el.hint = $("#hint");
    el.empty = $("#empty");
    el.emptyText = $("#empty-text");
    el.toast = $("#toast");
    el.toastText = $("#toast-text");
    el.toastClose = $("#toast-close");
    el.menu = $("#menu");
    el.menuList = $("#menu-list");
    el.menuButton = $("#menu-button");
    el.replyKeyboard = $("#reply-keyboard");
    el.composer = $("#composer");
    el.input = $("#composer-input");
    el.send = $("#composer-send");
    el.attachButton = $("#attach-button");
    el.fileInput = $("#file-input");
    el.chatTitle = $("#chat-title");
    el.chatSubtitle = $("#chat-subtitle");
    S.botName = el.chatTitle.textContent;

    el.composer.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = el.input.value;
      if (!text.trim()) return;
      closeMenu();
      el.input.value = "";
      if (!(await sendText(text)) && !el.input.value) el.input.value = text;
    });
    el.input.addEventListener("input", () => {
      const value = el.input.value;
      if (/^\/\S*$/.test(value)) openMenu(true);
      else if (S.menuByTyping) closeMenu();
    });
    el.menuButton.addEventListener("click", () => {
      if (el.menu.hidden || S.menuByTyping) {
        openMenu(false);
        refreshCommands();
      } else {
        closeMenu();
      }
    });
    el.attachButton.addEventListener("click", () => el.fileInput.click());
    el.fileInput.addEventListener("change", () => {
      const file = el.fileInput.files && el.fileInput.files[0];
      if (file) sendFile(file).finally(() => { el.fileInput.value = ""; });
    });
    el.toastClose.addEventListener("click", hideToast);

    // Clicks inside messages, the hint and the empty state (built from data, delegated here).
    document.addEventListener("click", (event) => {
      const target = event.target instanceof Element ? event.target : null;
      if (!target) return;
      const inline = target.closest("button.inline-btn");
      if (inline && el.messages.contains(inline)) {
        pressInline(inline);
        return;
      }
      const command = target.closest("button.cmd-link");
      if (command) {
        sendText(command.dataset.send);
        return;
      }
      const spoiler = target.closest(".spoiler");
      if (spoiler) spoiler.classList.add("revealed");
      if (!el.menu.hidden && !el.menu.contains(target) && !el.menuButton.contains(target) &&
          target !== el.input) {
        closeMenu();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        if (!el.menu.hidden) {
          closeMenu();
          el.menuButton.focus();
        } else if (!el.toast.hidden) {
          hideToast();
        }
      } else if ((event.key === "Enter" || event.key === " ") && event.target instanceof Element &&
          event.target.classList.contains("spoiler")) {
        event.preventDefault();
        event.target.classList.add("revealed");
      }
    });
    el.messages.addEventListener("scroll", () => {
      if (S.current) chatState(S.current).atBottom = isAtBottom(el.messages);
    }, { passive: true });
    // The menu, the reply keyboard or the window taking room: stay at the latest message.
    new ResizeObserver(() => {
      if (S.current && chatState(S.current).atBottom) scrollToBottom();
    }).observe(el.messages);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && S.current) startPolling(S.current);
    });
  }

  async function main() {
    wire();
    applyLanguage("id");
    renderEmpty();
    let tries = 0;
    while (!S.personas.length) {
      await refreshPersonas();
      if (S.personas.length) break;
      tries += 1;
      await sleep(Math.min(5000, 500 * tries));
    }
    refreshCommands();
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (S.byKey.has(wanted)) selectPersona(wanted);
    setInterval(checkOtherChats, CHATS_CHECK_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
