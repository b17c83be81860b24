/**
 * The listing's script and the styles of its controls: one inline `<script>` (no external asset, nothing
 * from a CDN), an enhancement of a page that already works without it — links, the GET search and
 * download forms, the multipart upload form.
 *
 * What it adds: times in the viewer's time zone (the exact UTC time stays in the `title`); keyboard
 * navigation (↓/j and ↑/k move between entries, Enter opens, Backspace goes to the parent, `/` focuses
 * the search); "select all" and a live count for the selection download; and where the page says writes
 * are allowed (`data-write` on `<body>`): uploads of files and whole folders (picker or drag and drop)
 * sent one `PUT` per file — big files in pieces through the resumable `PATCH` protocol — each with a
 * progress bar, Cancel and Retry (which asks `HEAD` how much arrived and continues from there), "New
 * folder" (`MKCOL`), and per entry "Rename/Move" (WebDAV `MOVE`, when `data-move`) and "Delete"
 * (`DELETE`, after a confirmation).
 *
 * Written as plain ES2017 for browsers, inside a template string: it must contain no backquote and no
 * dollar-brace. Names from the page reach the DOM only through `textContent` and attributes, and URLs
 * only through `encodeURIComponent`.
 * @module
 */

/** Bytes per upload request: a file larger than this goes as a PUT of its first piece and PATCHes. */
export const UPLOAD_PIECE_BYTES = 8 * 1024 * 1024;

/** Files uploaded at the same time. */
const PARALLEL_UPLOADS = 2;

/** Rows given Rename/Delete buttons per animation frame, so a huge listing stays responsive. */
const ACTION_ROWS_PER_FRAME = 500;

/**
 * The longest selection URL the script lets the form send: the wire refuses request lines over 8 KiB
 * (`maxRequestLineBytes`), and the method, the version and the folder path take some of that.
 */
const MAX_SELECTION_URL_CHARS = 7800;

/** What both halves of the script start with: the page's body, the table and the live status line. */
const SCRIPT_PRELUDE = `  var body = document.body;
  var table = document.getElementById('listing');
  var announce = document.getElementById('ui-status');
  function say(text) { if (announce) announce.textContent = text; }
`;

export const LISTING_SCRIPT = `<script>
(function () {
  'use strict';
${SCRIPT_PRELUDE}  function pad(n) { return (n < 10 ? '0' : '') + n; }

  // Times: the server writes UTC; show the viewer's own zone, keep the UTC time in the tooltip.
  if (table) {
    var times = table.getElementsByTagName('time');
    for (var i = 0; i < times.length; i++) {
      var when = new Date(times[i].getAttribute('datetime'));
      if (isNaN(when.getTime())) continue;
      times[i].textContent = when.getFullYear() + '-' + pad(when.getMonth() + 1) + '-' + pad(when.getDate()) +
        ' ' + pad(when.getHours()) + ':' + pad(when.getMinutes());
    }
  }

  // Keyboard: move between entries, open, go up, search.
  function entryLink(row) { return row ? row.querySelector('a.name, a.parent') : null; }
  function typingIn(element) {
    if (!element) return false;
    if (element.isContentEditable) return true;
    var tag = element.tagName;
    if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
    return tag === 'INPUT' && element.type !== 'checkbox';
  }
  function step(forward) {
    if (!table || !table.tBodies[0]) return;
    var current = document.activeElement && document.activeElement.closest ? document.activeElement.closest('#listing tbody tr') : null;
    var row = current ? (forward ? current.nextElementSibling : current.previousElementSibling)
      : (forward ? table.tBodies[0].firstElementChild : table.tBodies[0].lastElementChild);
    var link = entryLink(row);
    if (link) { link.focus(); link.scrollIntoView({ block: 'nearest' }); }
  }
  document.addEventListener('keydown', function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (typingIn(event.target)) {
      if (event.key === 'Escape') event.target.blur();
      return;
    }
    var key = event.key;
    if (key === 'ArrowDown' || key === 'j') { event.preventDefault(); step(true); }
    else if (key === 'ArrowUp' || key === 'k') { event.preventDefault(); step(false); }
    else if (key === '/') {
      var search = document.querySelector('form[role=search] input[type=search]');
      if (search) { event.preventDefault(); search.focus(); }
    } else if (key === 'Backspace') {
      var up = document.querySelector('a.parent');
      if (up) { event.preventDefault(); location.href = up.href; }
    }
  });

  // Selection: select all, a count, no empty or over-long request.
  var selection = document.getElementById('selection');
  if (selection && table) {
    var selectAll = document.getElementById('select-all');
    var selectButton = document.getElementById('download-selected');
    var count = document.getElementById('selection-count');
    var boxes = function () { return table.querySelectorAll('input[name=select]'); };
    var update = function () {
      var all = boxes(); var ticked = 0;
      for (var b = 0; b < all.length; b++) if (all[b].checked) ticked++;
      selectButton.disabled = ticked === 0;
      count.textContent = ticked === 0 ? '' : ticked + ' selected';
      selectAll.checked = ticked > 0 && ticked === all.length;
      selectAll.indeterminate = ticked > 0 && ticked < all.length;
    };
    selectAll.hidden = false;
    selectAll.addEventListener('change', function () {
      var all = boxes();
      for (var b = 0; b < all.length; b++) all[b].checked = selectAll.checked;
      update();
    });
    table.addEventListener('change', function (event) { if (event.target.name === 'select') update(); });
    selection.addEventListener('submit', function (event) {
      var query = new URLSearchParams(new FormData(selection)).toString();
      if (location.pathname.length + query.length > ${MAX_SELECTION_URL_CHARS}) {
        event.preventDefault();
        say('Too many entries are selected for one download link: select fewer, or download the whole folder.');
      }
    });
    update();
  }

})();
</script>
`;

/** The write half of the script, sent only on pages whose request may write (`--upload`, `--auth`). */
export const LISTING_WRITE_SCRIPT = `<script>
(function () {
  'use strict';
${SCRIPT_PRELUDE}  if (!body.hasAttribute('data-write') || !table) return;

  // Writes: everything below talks to this folder's URL.
  var folder = location.pathname;
  var pieceBytes = window.DOCROOT_UPLOAD_PIECE_BYTES || ${UPLOAD_PIECE_BYTES};
  function urlOf(relative) { return folder + relative.split('/').map(encodeURIComponent).join('/'); }
  function request(method, url, headers) {
    return fetch(url, { method: method, headers: headers || {}, credentials: 'same-origin' }).then(function (response) {
      if (response.ok) return response;
      return response.text().then(function (text) { throw new Error(text.split('\\n')[0] || response.status + ' ' + response.statusText); });
    });
  }
  function reloadSoon() { location.reload(); }

  // Folders a tree upload needs, each made once (405: it exists already).
  var made = {};
  function ensureFolders(relative) {
    var parts = relative.split('/'); parts.pop();
    var chain = Promise.resolve(); var path = '';
    parts.forEach(function (part) {
      path += part + '/';
      var here = path;
      chain = chain.then(function () {
        if (!made[here]) made[here] = fetch(urlOf(here), { method: 'MKCOL', credentials: 'same-origin' }).then(function (response) {
          if (response.ok || response.status === 405) return;
          return response.text().then(function (text) { throw new Error(text.split('\\n')[0]); });
        });
        return made[here];
      });
    });
    return chain;
  }

  var list = document.getElementById('transfers');
  var waiting = []; var active = 0; var failures = 0; var started = 0;
  function Transfer(file, relative) {
    this.file = file; this.relative = relative; this.url = urlOf(relative); this.xhr = null; this.stopped = false;
    var item = document.createElement('li');
    var label = document.createElement('span'); label.className = 'transfer-name'; label.textContent = relative;
    this.bar = document.createElement('progress'); this.bar.max = 1; this.bar.value = 0;
    this.bar.setAttribute('aria-label', 'Upload of ' + relative);
    this.state = document.createElement('span'); this.state.className = 'transfer-state';
    this.cancel = document.createElement('button'); this.cancel.type = 'button'; this.cancel.textContent = 'Cancel';
    this.cancel.setAttribute('aria-label', 'Cancel the upload of ' + relative);
    this.retry = document.createElement('button'); this.retry.type = 'button'; this.retry.textContent = 'Retry'; this.retry.hidden = true;
    this.retry.setAttribute('aria-label', 'Retry the upload of ' + relative);
    item.append(label, this.bar, this.state, this.cancel, this.retry);
    list.append(item); list.hidden = false;
    var self = this;
    this.cancel.addEventListener('click', function () { self.stop(); });
    this.retry.addEventListener('click', function () { failures--; self.retry.hidden = true; self.begin(true); });
    this.state.textContent = 'Waiting';
  }
  Transfer.prototype.begin = function (resume) {
    var self = this;
    this.stopped = false; this.cancel.hidden = false; this.state.textContent = 'Starting';
    active++;
    ensureFolders(this.relative).then(function () { return resume ? self.probe() : 0; })
      .then(function (offset) { self.send(offset); }, function (error) { self.fail(error.message); });
  };
  Transfer.prototype.probe = function () {
    // How much of the file the server has: PATCH pieces keep what arrived, so carry on from there.
    var size = this.file.size;
    return fetch(this.url, { method: 'HEAD', cache: 'no-store', credentials: 'same-origin' }).then(function (response) {
      var have = Number(response.headers.get('Content-Length'));
      return response.ok && have > 0 && have <= size ? have : 0;
    }, function () { return 0; });
  };
  Transfer.prototype.send = function (offset) {
    var self = this; var file = this.file; var size = file.size;
    if (this.stopped) { this.cancelled(); return; }
    if (offset > 0 && offset >= size) { this.done(); return; }
    var end = Math.min(size, offset + pieceBytes);
    var xhr = new XMLHttpRequest(); this.xhr = xhr;
    if (offset === 0) {
      xhr.open('PUT', this.url);
    } else {
      xhr.open('PATCH', this.url);
      xhr.setRequestHeader('Content-Range', 'bytes ' + offset + '-' + (end - 1) + '/' + size);
    }
    this.state.textContent = offset === 0 ? 'Uploading' : 'Uploading from ' + Math.round(100 * offset / size) + '%';
    xhr.upload.onprogress = function (event) { if (size > 0) self.bar.value = (offset + event.loaded) / size; };
    xhr.onload = function () {
      if (xhr.status >= 200 && xhr.status < 300) {
        self.bar.value = size === 0 ? 1 : end / size;
        if (end < size) self.send(end); else self.done();
      } else self.fail(xhr.responseText.split('\\n')[0] || xhr.status + ' ' + xhr.statusText);
    };
    xhr.onerror = function () { self.fail('the connection was lost'); };
    xhr.onabort = function () { self.cancelled(); };
    xhr.send(file.slice(offset, end));
  };
  Transfer.prototype.stop = function () {
    var queued = waiting.indexOf(this);
    if (queued !== -1) {
      waiting.splice(queued, 1); failures++;
      this.cancel.hidden = true; this.state.textContent = 'Cancelled'; this.retry.hidden = false;
      return;
    }
    this.stopped = true; if (this.xhr) this.xhr.abort();
  };
  Transfer.prototype.cancelled = function () {
    failures++; this.state.textContent = 'Cancelled'; this.retry.hidden = false; this.settle();
  };
  Transfer.prototype.settle = function () { this.cancel.hidden = true; this.xhr = null; active--; pump(); };
  Transfer.prototype.done = function () { this.bar.value = 1; this.state.textContent = 'Done'; this.settle(); };
  Transfer.prototype.fail = function (reason) {
    failures++; this.state.textContent = 'Failed: ' + reason; this.retry.hidden = false; this.settle();
    say('An upload failed: ' + reason);
  };
  function pump() {
    while (active < ${PARALLEL_UPLOADS} && waiting.length > 0) waiting.shift().begin(false);
    if (active === 0 && waiting.length === 0 && started > 0) {
      if (failures === 0) { say('Uploads complete'); reloadSoon(); }
    }
  }
  function enqueue(file, relative) {
    started++;
    waiting.push(new Transfer(file, relative));
  }
  function enqueueFiles(files, relativeNames) {
    for (var f = 0; f < files.length; f++) enqueue(files[f], relativeNames ? (files[f].webkitRelativePath || files[f].name) : files[f].name);
    pump();
  }

  var form = document.getElementById('upload');
  var fileInput = document.getElementById('upload-files');
  var folderInput = document.getElementById('upload-folder');
  fileInput.required = false;
  document.getElementById('folder-picker').hidden = false;
  document.getElementById('drop-hint').hidden = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (fileInput.files.length === 0 && folderInput.files.length === 0) { say('Choose files or a folder to upload first.'); return; }
    enqueueFiles(fileInput.files, false);
    enqueueFiles(folderInput.files, true);
    form.reset();
  });

  // Drag and drop of files and folders; folders are read entry by entry so their tree is kept.
  function readEntry(entry, prefix) {
    if (entry.isFile) {
      return new Promise(function (resolve) {
        entry.file(function (file) { enqueue(file, prefix + entry.name); resolve(); }, function () { resolve(); });
      });
    }
    if (!entry.isDirectory) return Promise.resolve();
    var reader = entry.createReader(); var children = [];
    return new Promise(function (resolve) {
      (function more() {
        reader.readEntries(function (batch) {
          if (batch.length === 0) {
            // An empty folder has no file to carry it: make it here.
            var own = children.length > 0 ? Promise.resolve()
              : ensureFolders(prefix + entry.name + '/x').catch(function (error) { say('New folder failed: ' + error.message); });
            Promise.all([own].concat(children.map(function (child) { return readEntry(child, prefix + entry.name + '/'); })))
              .then(function () { resolve(); });
          } else { children = children.concat(Array.prototype.slice.call(batch)); more(); }
        }, function () { resolve(); });
      })();
    });
  }
  document.addEventListener('dragover', function (event) {
    if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, 'Files') !== -1) {
      event.preventDefault(); body.classList.add('dropping');
    }
  });
  document.addEventListener('dragleave', function (event) { if (event.target === document.documentElement || event.relatedTarget === null) body.classList.remove('dropping'); });
  document.addEventListener('drop', function (event) {
    if (!event.dataTransfer) return;
    event.preventDefault(); body.classList.remove('dropping');
    var items = event.dataTransfer.items; var entries = [];
    for (var d = 0; d < items.length; d++) {
      var entry = items[d].webkitGetAsEntry ? items[d].webkitGetAsEntry() : null;
      if (entry) entries.push(entry);
    }
    if (entries.length === 0) { enqueueFiles(event.dataTransfer.files, false); return; }
    Promise.all(entries.map(function (entry) { return readEntry(entry, ''); })).then(function () {
      if (started === 0) reloadSoon(); else pump();
    });
  });

  // New folder, rename or move, delete.
  document.getElementById('new-folder').hidden = false;
  document.getElementById('new-folder').addEventListener('click', function () {
    var name = prompt('Name of the new folder:');
    if (!name) return;
    request('MKCOL', urlOf(name.replace(/\\/+$/, '') + '/')).then(reloadSoon, function (error) { say('New folder failed: ' + error.message); });
  });
  var canMove = body.hasAttribute('data-move');
  function entryName(row) {
    var link = row.querySelector('a.name');
    if (!link) return null;
    var text = link.textContent;
    return row.classList.contains('dir') ? text.slice(0, -1) : text;
  }
  function actionButton(text, name, kind) {
    var button = document.createElement('button');
    button.type = 'button'; button.className = kind; button.textContent = text;
    button.setAttribute('aria-label', text + ' ' + name);
    return button;
  }
  var head = table.tHead && table.tHead.rows[0];
  if (head) { var th = document.createElement('th'); th.className = 'actions'; th.scope = 'col'; th.textContent = 'Actions'; head.append(th); }
  var rows = table.tBodies[0] ? Array.prototype.slice.call(table.tBodies[0].rows) : [];
  (function addActions(start) {
    var end = Math.min(rows.length, start + ${ACTION_ROWS_PER_FRAME});
    for (var r = start; r < end; r++) {
      var row = rows[r]; var cell = row.insertCell(-1); cell.className = 'actions';
      var name = entryName(row);
      if (name === null) continue;
      if (canMove) cell.append(actionButton('Rename/Move', name, 'rename'));
      cell.append(actionButton('Delete', name, 'delete'));
    }
    if (end < rows.length) requestAnimationFrame(function () { addActions(end); });
  })(0);
  table.addEventListener('click', function (event) {
    var button = event.target.closest ? event.target.closest('button.rename, button.delete') : null;
    if (!button) return;
    var row = button.closest('tr'); var name = entryName(row); var isFolder = row.classList.contains('dir');
    var source = urlOf(name) + (isFolder ? '/' : '');
    if (button.classList.contains('delete')) {
      if (!confirm('Delete ' + name + (isFolder ? ' and everything in it' : '') + '? This cannot be undone.')) return;
      request('DELETE', source).then(reloadSoon, function (error) { say('Delete failed: ' + error.message); });
      return;
    }
    var target = prompt('Rename or move ' + name + ' to (a new name, or a path such as ../other/' + name + '):', name);
    if (!target || target === name) return;
    var destination = new URL(target.split('/').map(function (part) { return part === '..' || part === '.' ? part : encodeURIComponent(part); }).join('/'), location.origin + folder);
    request('MOVE', source, { Destination: destination.href + (isFolder && !/\\/$/.test(destination.pathname) ? '/' : ''), Overwrite: 'F' })
      .then(reloadSoon, function (error) { say('Rename failed: ' + error.message); });
  });
})();
</script>
`;

/** Styles of the listing's controls (toolbar, selection, uploads, actions, focus). */
export const LISTING_UI_STYLE = `
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
#toolbar { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: center; margin: 0 0 0.75rem; }
#toolbar form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 0; }
button { font: inherit; padding: 0.25rem 0.6rem; }
td.select, th.select { width: 1.5rem; }
td.name a.name { display: inline-flex; align-items: baseline; }
tbody tr:focus-within { background: color-mix(in srgb, var(--accent) 14%, var(--bg)); }
td.actions { white-space: nowrap; }
td.actions button { font-size: 0.85rem; padding: 0.1rem 0.4rem; margin-right: 0.25rem; }
#manage { margin: 0 0 0.75rem; padding: 0.5rem; border: 1px dashed var(--line); border-radius: 0.25rem; }
#manage form { display: inline-flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 0 0.5rem 0 0; }
body.dropping #manage { border-color: var(--accent); background: color-mix(in srgb, var(--accent) 10%, var(--bg)); }
#transfers { list-style: none; padding: 0; margin: 0.5rem 0 0; }
#transfers li { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; padding: 0.15rem 0; }
#transfers .transfer-name { flex: 1 1 12rem; overflow-wrap: anywhere; }
#transfers progress { flex: 0 1 10rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 32rem) { td.actions button { display: block; margin: 0 0 0.25rem; } }
`;
