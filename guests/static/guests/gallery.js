// The gallery page: grid loaded by pages, full-screen viewer, favourites, downloads and
// selfie search — all through the guest API on this origin (the gallery cookie goes along;
// unsafe requests carry the CSRF token).
(function () {
  "use strict";
  var root = document.getElementById("gallery");
  if (!root) return;
  var galleryId = root.dataset.gallery;
  var csrf = root.dataset.csrf;
  var sizes = root.dataset.sizes ? root.dataset.sizes.split(",") : [];
  var pinNeeded = root.dataset.pinNeeded === "1";
  var api = "/api/v1/public/galleries/" + galleryId + "/";
  var grid = document.getElementById("grid");
  var statusEl = document.getElementById("status");
  var sentinel = document.getElementById("sentinel");
  var photos = [];          // what the grid shows, in order
  var favourites = {};      // photo id -> comment
  var state = { album: "", cursor: null, done: false, loading: false, mode: "all" };
  var current = -1;

  function say(text) { statusEl.textContent = text; }

  // The gallery's (or the album's) photo count from the page, not how many are loaded so far;
  // favourites and selfie results are whole lists already.
  function total() {
    if (state.mode !== "all") return photos.length;
    var holder = state.album ? document.querySelector('.album[data-album="' + state.album + '"]') : root;
    var count = holder && holder.dataset.count;
    return count ? Number(count) : photos.length;
  }

  function photoCount(n) { return n + (n === 1 ? " photo" : " photos"); }

  function request(method, path, body, isForm) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET") headers["X-CSRFToken"] = csrf;
    if (body && !isForm) headers["Content-Type"] = "application/json";
    return fetch(api + path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body ? (isForm ? body : JSON.stringify(body)) : undefined
    }).then(function (response) {
      if (response.status === 204) return {};
      return response.json().then(function (data) {
        if (!response.ok) {
          var error = new Error((data.error && data.error.message) || "Something went wrong.");
          error.code = data.error && data.error.code;
          throw error;
        }
        return data;
      });
    });
  }

  // --- Grid ---------------------------------------------------------------------------------
  function tile(photo, index) {
    var li = document.createElement("li");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "tile";
    button.dataset.index = String(index);
    button.dataset.photo = photo.id;
    button.setAttribute("aria-label", "Open photo " + (index + 1));
    var img = document.createElement("img");
    img.loading = "lazy";
    img.alt = "";
    if (photo.width && photo.height) {
      img.width = 400; img.height = Math.round(400 * photo.height / photo.width);
    }
    if (photo.thumb_url) img.src = photo.thumb_url;
    button.appendChild(img);
    if (favourites[photo.id] !== undefined) button.classList.add("is-favourite");
    button.addEventListener("click", function () { openViewer(index); });
    li.appendChild(button);
    return li;
  }

  function render(list, append) {
    if (!append) grid.textContent = "";
    var start = append ? photos.length - list.length : 0;
    var fragment = document.createDocumentFragment();
    list.forEach(function (photo, i) { fragment.appendChild(tile(photo, start + i)); });
    grid.appendChild(fragment);
  }

  function loadMore() {
    if (state.loading || state.done || state.mode !== "all") return;
    state.loading = true;
    var query = "photos/?page_size=60" + (state.album ? "&album=" + state.album : "") +
      (state.cursor ? "&cursor=" + encodeURIComponent(state.cursor) : "");
    request("GET", query).then(function (page) {
      photos = photos.concat(page.results);
      render(page.results, true);
      state.cursor = page.next;
      state.done = !page.next;
      say(photoCount(Math.max(total(), photos.length)));
    }).catch(function (error) { say(error.message); })
      .finally(function () { state.loading = false; if (!state.done) maybeMore(); });
  }

  function maybeMore() {
    var rect = sentinel.getBoundingClientRect();
    if (rect.top < window.innerHeight + 800) loadMore();
  }

  function reset(album) {
    state = { album: album, cursor: null, done: false, loading: false, mode: "all" };
    photos = [];
    grid.textContent = "";
    loadMore();
  }

  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) loadMore();
    }, { rootMargin: "800px" }).observe(sentinel);
  } else {
    window.addEventListener("scroll", maybeMore, { passive: true });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".album"), function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll(".albums [aria-pressed]").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b === button));
      });
      reset(button.dataset.album);
    });
  });

  // --- Viewer -------------------------------------------------------------------------------
  var viewer = document.getElementById("viewer");
  var viewerImg = document.getElementById("viewer-img");
  var caption = document.getElementById("viewer-caption");
  var favButton = document.getElementById("viewer-fav");
  var comment = document.getElementById("viewer-comment");
  var downloads = document.getElementById("viewer-downloads");

  function showViewer(index) {
    current = index;
    var photo = photos[index];
    viewerImg.src = photo.preview_url || photo.thumb_url || "";
    var of = Math.max(total(), photos.length);
    viewerImg.alt = "Photo " + (index + 1) + " of " + of;
    caption.textContent = (index + 1) + " / " + of;
    var isFav = favourites[photo.id] !== undefined;
    favButton.setAttribute("aria-pressed", String(isFav));
    favButton.textContent = isFav ? "♥ Favourite" : "♡ Favourite";
    comment.hidden = !isFav;
    comment.value = isFav ? favourites[photo.id] : "";
    downloads.textContent = "";
    sizes.forEach(function (size) {
      var link = document.createElement("a");
      link.className = "download";
      link.textContent = "Download " + size;
      link.href = api + "photos/" + photo.id + "/download/?size=" + size + "&redirect=true";
      if (pinNeeded) {
        link.addEventListener("click", function (event) { event.preventDefault(); askPin(); });
      }
      downloads.appendChild(link);
    });
    if (index + 2 >= photos.length) loadMore();
  }

  function openViewer(index) {
    showViewer(index);
    if (!viewer.open) viewer.showModal();
    favButton.focus();
  }

  function step(delta) {
    var next = current + delta;
    if (next >= 0 && next < photos.length) showViewer(next);
  }

  document.getElementById("viewer-prev").addEventListener("click", function () { step(-1); });
  document.getElementById("viewer-next").addEventListener("click", function () { step(1); });
  document.getElementById("viewer-close").addEventListener("click", function () { viewer.close(); });
  viewer.addEventListener("keydown", function (event) {
    if (event.target === comment) return;
    if (event.key === "ArrowLeft") { step(-1); event.preventDefault(); }
    if (event.key === "ArrowRight") { step(1); event.preventDefault(); }
  });
  var touchX = null;
  viewer.addEventListener("touchstart", function (e) { touchX = e.changedTouches[0].clientX; }, { passive: true });
  viewer.addEventListener("touchend", function (e) {
    if (touchX === null) return;
    var dx = e.changedTouches[0].clientX - touchX;
    if (Math.abs(dx) > 50) step(dx < 0 ? 1 : -1);
    touchX = null;
  }, { passive: true });

  // --- Favourites ---------------------------------------------------------------------------
  var emailDialog = document.getElementById("email-dialog");
  var pendingFavourite = null;

  function loadFavourites() {
    return request("GET", "favourites/").then(function (lists) {
      favourites = {};
      lists.forEach(function (list) {
        list.items.forEach(function (item) { favourites[item.photo_id] = item.comment; });
      });
      document.getElementById("fav-count").textContent = String(Object.keys(favourites).length);
    }).catch(function () {});
  }

  function markTile(photoId, on) {
    photos.forEach(function (photo, index) {
      if (photo.id !== photoId) return;
      var tileButton = grid.querySelector('[data-index="' + index + '"]');
      if (tileButton) tileButton.classList.toggle("is-favourite", on);
    });
    document.getElementById("fav-count").textContent = String(Object.keys(favourites).length);
  }

  function toggleFavourite() {
    var photo = photos[current];
    if (!photo) return;
    var on = favourites[photo.id] === undefined;
    var call = on ? request("PUT", "favourites/photos/" + photo.id + "/", { comment: "" })
                  : request("DELETE", "favourites/photos/" + photo.id + "/");
    call.then(function () {
      if (on) favourites[photo.id] = ""; else delete favourites[photo.id];
      markTile(photo.id, on);
      showViewer(current);
      say(on ? "Added to favourites" : "Removed from favourites");
    }).catch(function (error) {
      if (error.code === "email_required") {
        pendingFavourite = photo;
        emailDialog.showModal();
      } else { say(error.message); }
    });
  }

  favButton.addEventListener("click", toggleFavourite);
  comment.addEventListener("change", function () {
    var photo = photos[current];
    request("PUT", "favourites/photos/" + photo.id + "/", { comment: comment.value })
      .then(function () { favourites[photo.id] = comment.value; say("Comment saved"); })
      .catch(function (error) { say(error.message); });
  });

  document.getElementById("email-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var email = document.getElementById("fav-email").value;
    request("POST", "register/", { email: email }).then(function () {
      emailDialog.close();
      if (pendingFavourite) { current = photos.indexOf(pendingFavourite); pendingFavourite = null; toggleFavourite(); }
    }).catch(function (error) { document.getElementById("email-error").textContent = error.message; });
  });

  document.getElementById("show-favourites").addEventListener("click", function (event) {
    var button = event.currentTarget;
    document.querySelectorAll(".albums [aria-pressed]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b === button));
    });
    state.mode = "favourites";
    var chosen = photos.filter(function (p) { return favourites[p.id] !== undefined; });
    photos = chosen;
    render(chosen, false);
    say(chosen.length + " favourites");
  });

  // --- Downloads ----------------------------------------------------------------------------
  var pinDialog = document.getElementById("pin-dialog");
  function askPin() { pinDialog.showModal(); }
  document.getElementById("pin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    request("POST", "downloads/unlock/", { pin: document.getElementById("download-pin").value })
      .then(function () { pinNeeded = false; pinDialog.close(); say("Downloads unlocked"); if (current >= 0 && viewer.open) showViewer(current); })
      .catch(function (error) { document.getElementById("pin-error").textContent = error.message; });
  });

  var downloadAll = document.getElementById("download-all");
  if (downloadAll) {
    downloadAll.addEventListener("click", function () {
      if (pinNeeded) { askPin(); return; }
      var size = sizes.indexOf("high") >= 0 ? "high" : sizes[0];
      request("POST", "downloads/", { size: size, album_id: state.album || null }).then(function poll(job) {
        if (job.state === "ready" && job.url) { say("Your download is ready."); window.location.href = job.url; return; }
        if (job.state === "failed" || job.state === "expired") { say("The download failed; try again."); return; }
        say("Preparing your download: " + job.files_done + " / " + job.file_count + " photos");
        setTimeout(function () { request("GET", "downloads/" + job.id + "/").then(poll); }, 2000);
      }).catch(function (error) { say(error.message); });
    });
  }

  // --- Selfie search ------------------------------------------------------------------------
  var selfieDialog = document.getElementById("selfie-dialog");
  if (selfieDialog) {
    var selfieInput = document.getElementById("selfie");
    var selfieError = document.getElementById("selfie-error");
    document.getElementById("open-selfie").addEventListener("click", function () {
      selfieError.textContent = "";
      selfieDialog.showModal();
    });
    function sendSelfie(path) {
      if (!selfieInput.files.length) { selfieError.textContent = "Choose a photo of your face first."; return null; }
      var form = new FormData();
      form.append("selfie", selfieInput.files[0]);
      selfieError.textContent = "";
      say("Looking for you…");
      return request("POST", path, form, true).catch(function (error) {
        selfieError.textContent = error.message; say(""); throw error;
      });
    }
    document.getElementById("selfie-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var sent = sendSelfie("selfie-search/");
      if (!sent) return;
      sent.then(function (result) {
        selfieDialog.close();
        state.mode = "selfie";
        photos = result.photos.map(function (p) {
          return { id: p.id, width: p.width, height: p.height, thumb_url: p.thumb_url, preview_url: p.preview_url };
        });
        render(photos, false);
        say(result.count ? "We found you in " + result.count + " photos." : "We could not find you in this gallery.");
        grid.dataset.mode = "selfie";
      }).catch(function () {});
    });
    document.getElementById("hide-me").addEventListener("click", function () {
      var sent = sendSelfie("hide-me/");
      if (!sent) return;
      sent.then(function (result) {
        selfieDialog.close();
        say("Done: " + result.faces_hidden + " faces are hidden from search. The studio has been told.");
      }).catch(function () {});
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-close]"), function (button) {
    button.addEventListener("click", function () { button.closest("dialog").close(); });
  });

  if (root.dataset.visitor) loadFavourites().then(function () { reset(""); });
  else reset("");
})();
