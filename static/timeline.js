// The timeline on the static site: see below (a part of static/page.js, window.cpParts).
"use strict";
