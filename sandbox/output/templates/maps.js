// The maps of a sandbox page. The page ships its base map, zone outlines and overlays once, and every map as
// numbers: a colour class per zone and, per tooltip set, the zones' figures, which this script writes into the
// tooltip's sentence. Coordinates and numbers come in binary ("f4:" and base64 of a little-endian typed array).
// Selects named in `selects` pick the map; with `swipe`, one choice of a select shows two maps split by a slider.
(function () {
  const P = JSON.parse(document.getElementById("map-data").textContent);
  const pick = (id) => document.getElementById(id);
  const NO_DATA = [200, 200, 200, 110];
  const FILL_ALPHA = 150;
  const containers = [pick("deck-container"), pick("deck-right")];
  const decks = [], shown = [];
  const started = performance.now();  // when this script started (ms since the page started loading)
  let viewState = P.view;

  // ------------------------------------------------------------------------------------------ numbers in binary
  const TYPES = {f4: Float32Array, f8: Float64Array, u1: Uint8Array, u2: Uint16Array, u4: Uint32Array};
  const arrays = new Map();
  function array(text) {
    if (!arrays.has(text)) {
      const raw = atob(text.slice(3)), bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      arrays.set(text, new TYPES[text.slice(0, 2)](bytes.buffer));
    }
    return arrays.get(text);
  }

  // Features as deck.gl data: one object per polygon, path or point, `i` the feature it belongs to.
  function features(g) {
    const c = array(g.coords), out = [];
    const vertex = (v) => [c[2 * v], c[2 * v + 1]];
    const line = (a, b) => { const r = new Array(b - a); for (let v = a; v < b; v++) r[v - a] = vertex(v); return r; };
    if (g.kind === "point") {
      for (let i = 0; i < c.length / 2; i++) out.push({position: vertex(i), i: i});
      return out;
    }
    const lines = array(g.lines), owners = array(g.features), parts = g.parts ? array(g.parts) : null;
    for (let f = 0; f + 1 < owners.length; f++) {
      for (let p = owners[f]; p < owners[f + 1]; p++) {
        if (parts) {
          const rings = [];
          for (let r = parts[p]; r < parts[p + 1]; r++) rings.push(line(lines[r], lines[r + 1]));
          out.push({polygon: rings, i: f});
        } else {
          out.push({path: line(lines[p], lines[p + 1]), i: f});
        }
      }
    }
    return out;
  }
  // Outlines and paths as straight segments, for a LineLayer: `i` the feature each belongs to, rings closed.
  function segments(g) {
    const c = array(g.coords), lines = array(g.lines), owners = array(g.features), parts = g.parts ? array(g.parts) : null;
    const out = [], at = (v) => [c[2 * v], c[2 * v + 1]];
    for (let f = 0; f + 1 < owners.length; f++) {
      const first = parts ? parts[owners[f]] : owners[f], last = parts ? parts[owners[f + 1]] : owners[f + 1];
      for (let r = first; r < last; r++) {
        const a = lines[r], b = lines[r + 1];
        for (let v = a; v + 1 < b; v++) out.push({s: at(v), t: at(v + 1), i: f});
        if (parts && b - a > 2) out.push({s: at(b - 1), t: at(a), i: f});
      }
    }
    return out;
  }
  const decoded = new Map();
  function cached(key, make) {
    if (!decoded.has(key)) decoded.set(key, make());
    return decoded.get(key);
  }
  const GEOMETRY = {polygon: {getPolygon: (d) => d.polygon}, path: {getPath: (d) => d.path},
                    point: {getPosition: (d) => d.position}};
  const SEGMENT = {getSourcePosition: (d) => d.s, getTargetPosition: (d) => d.t};
  // Where a spec asks for `segments`, its lines are drawn by a LineLayer: a PathLayer computes joints in its vertex
  // shader, which a software renderer (headless Chromium) takes a second a frame over for thousands of outlines,
  // and at one or two pixels wide a joint looks no different. A PolygonLayer becomes its fill and its outline.
  function outline(spec, props) {
    const lines = {id: spec.id + "-outline", data: cached(spec.id + "-outline", () => segments(spec.geometry)),
                   pickable: props.pickable, updateTriggers: props.updateTriggers || {}};
    if (spec.type === "PolygonLayer") {
      return Object.assign(lines, SEGMENT, {getColor: props.getLineColor, getWidth: props.getLineWidth || 1,
                                            widthUnits: props.lineWidthUnits || "meters",
                                            widthMinPixels: props.lineWidthMinPixels || 0,
                                            widthMaxPixels: props.lineWidthMaxPixels || Number.MAX_SAFE_INTEGER});
    }
    return Object.assign({}, props, lines, SEGMENT, {widthUnits: props.widthUnits || "meters"});
  }
  function layer(spec) {
    const props = Object.assign({}, spec.props, {id: spec.id});
    if (spec.styles) {
      const index = array(spec.styles.index);
      Object.entries(spec.styles.get).forEach(([name, table]) => { props[name] = (d) => table[index[d.i]]; });
    }
    if (spec.segments && spec.type === "PathLayer") return new deck.LineLayer(outline(spec, props));
    if (spec.geometry) {
      Object.assign(props, {data: cached(spec.id, () => features(spec.geometry))}, GEOMETRY[spec.geometry.kind]);
    }
    if (spec.segments && spec.type === "PolygonLayer") {
      const fill = props.filled === false ? [] : [new deck.SolidPolygonLayer(Object.assign({}, props, {stroked: false}))];
      return props.stroked === false ? fill : fill.concat([new deck.LineLayer(outline(spec, props))]);
    }
    return new deck[spec.type](props);
  }

  // ---------------------------------------------------------------------------- figures written as Python does
  // The exact decimal expansion of a double, rounded half to even: the digits Python's format() writes.
  function expansion(x) {  // for |x| < 1e21 (toFixed writes larger numbers in exponent form)
    const [whole, fraction] = Math.abs(x).toFixed(100).split(".");
    return [whole + fraction, whole.length];
  }
  function rounded(digits, keep) {
    const head = digits.slice(0, Math.max(keep, 0)).padEnd(Math.max(keep, 0), "0");
    const next = digits.charAt(keep) || "0", rest = digits.slice(keep + 1);
    const last = keep > 0 ? Number(head.charAt(keep - 1)) : 0;
    if (!(next > "5" || (next === "5" && (/[1-9]/.test(rest) || last % 2 === 1)))) return [head, false];
    const out = head.split("");
    let i = out.length - 1;
    while (i >= 0 && out[i] === "9") { out[i] = "0"; i--; }
    if (i < 0) return ["1" + out.join(""), true];
    out[i] = String(Number(out[i]) + 1);
    return [out.join(""), false];
  }
  function signOf(x, plus) { return x < 0 || Object.is(x, -0) ? "-" : plus ? "+" : ""; }
  function special(x, plus) {
    if (Number.isNaN(x)) return (plus ? "+" : "") + "nan";
    return (x < 0 ? "-" : plus ? "+" : "") + "inf";
  }
  function grouped(whole, group) { return group ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") : whole; }
  function fixed(x, decimals, plus, group) {  // f"{x:+,.{decimals}f}"
    if (!Number.isFinite(x)) return special(x, plus);
    if (Math.abs(x) >= 1e21) return signOf(x, plus) + String(Math.abs(x));
    const [digits, point] = expansion(x);
    const [kept, carried] = rounded(digits, point + decimals);
    const wholeLength = point + (carried ? 1 : 0);
    const whole = kept.slice(0, wholeLength).replace(/^0+(?=\d)/, "") || "0";
    const fraction = kept.slice(wholeLength);
    return signOf(x, plus) + grouped(whole, group) + (decimals > 0 ? "." + fraction : "");
  }
  function general(x, precision, plus, group) {  // f"{x:+,.{precision}g}"
    if (!Number.isFinite(x)) return special(x, plus);
    if (x === 0) return signOf(x, plus) + "0";
    if (Math.abs(x) >= 1e21) return signOf(x, plus) + String(Math.abs(x));
    const [digits, point] = expansion(x);
    const lead = digits.search(/[1-9]/);
    let exponent = point - lead - 1;
    let [kept, carried] = rounded(digits.slice(lead), precision);
    if (carried) { exponent += 1; kept = kept.slice(0, precision); }
    let text;
    if (exponent >= -4 && exponent < precision) {
      text = exponent >= 0 ? grouped(kept.slice(0, exponent + 1), group) + "." + kept.slice(exponent + 1)
                           : "0." + "0".repeat(-exponent - 1) + kept;
      text = text.replace(/0+$/, "").replace(/\.$/, "");
    } else {
      const mantissa = (kept.charAt(0) + "." + kept.slice(1)).replace(/0+$/, "").replace(/\.$/, "");
      text = mantissa + "e" + (exponent < 0 ? "-" : "+") + String(Math.abs(exponent)).padStart(2, "0");
    }
    return signOf(x, plus) + text;
  }
  const FORMATS = {  // sandbox/output/maps.py: FORMATS
    share: (v) => (Number.isFinite(v) ? fixed(v * 100, 0) : special(v * 100)) + "%",
    pp: (v) => fixed(v * 100, 0, true) + " pp",
    number: (v) => (Math.abs(v) < 1000 ? general(v, 3, false, true) : fixed(v, 0, false, true)),
    g3: (v) => general(v, 3, false, true),
    signed: (v) => general(v, 3, true, true),
    int: (v) => (Number.isFinite(v) ? String(Math.trunc(v)) : special(v)),
    minutes: (v) => fixed(v / 60, 1),
  };

  // ---------------------------------------------------------------------------------------------- tooltips
  function fill(template, tips, i) {
    return template.replace(/\{(\w+):(\w+)\}/g, (_, name, format) => FORMATS[format](array(P.fields[tips.fields[name]])[i]));
  }
  function zoneTip(entry, i) {
    const tips = P.tips[entry.tips];
    if (tips.texts) return tips.texts[i];
    return fill(array(P.fields[tips.shown])[i] ? tips.text : tips.hidden, tips, i);
  }
  function overlayTip(spec, i) {
    const t = spec.tips;
    if (!t) return null;
    const id = array(t.ids)[i];
    return t.prefix[array(t.p)[i]] + " " + (Number.isNaN(id) ? "" : String(id)) + t.suffix[array(t.s)[i]];
  }
  const specs = {};
  (P.base || []).forEach((spec) => { specs[spec.id] = spec; });
  Object.values(P.overlays).forEach((spec) => { specs[spec.id] = spec; });
  function tooltip(slot, info) {
    if (!info.picked || !info.object || info.object.i === undefined) return null;
    const id = info.layer && info.layer.id.replace(/-outline$/, "");
    const text = id === "zones" ? zoneTip(shown[slot], info.object.i) : specs[id] && overlayTip(specs[id], info.object.i);
    return text ? {html: text, style: P.tooltip.style} : null;
  }

  // ------------------------------------------------------------------------------------------------- the maps
  const ZONES = {id: "zones", type: "PolygonLayer", segments: true, geometry: P.zones.geometry};
  function zoneLayer(entry) {
    const classes = array(entry.classes);
    const colors = entry.colors.map((c) => c.concat([FILL_ALPHA]));
    return layer(Object.assign({}, ZONES, {props: {
      getFillColor: (d) => (classes[d.i] === 0 ? NO_DATA : colors[classes[d.i] - 1]),
      updateTriggers: {getFillColor: entry.classes}, getLineColor: [60, 60, 60, 160], lineWidthMinPixels: 1,
      pickable: true, autoHighlight: true}}));
  }
  function layers(entry) {
    return P.base.map(layer).concat([zoneLayer(entry)], entry.overlays.map((name) => layer(P.overlays[name]))).flat();
  }
  function sync(change) {
    viewState = change.viewState;
    decks.forEach((each) => each && each.setProps({viewState: viewState}));
  }
  function draw(slot, entry) {
    shown[slot] = entry;
    if (!decks[slot]) {
      decks[slot] = createDeck({container: containers[slot], tooltip: P.tooltip,
                                jsonInput: {initialViewState: viewState, views: P.views, layers: []}});
      decks[slot].setProps({viewState: viewState, onViewStateChange: sync,
                            getTooltip: (info) => tooltip(slot, info), onAfterRender: () => rendered(slot)});
    }
    decks[slot].setProps({layers: layers(entry)});
  }
  const drawn = [];  // when each map was first drawn whole, every layer loaded (ms since the page started loading)
  function rendered(slot) {
    const manager = decks[slot].layerManager;
    if (drawn[slot] === undefined && manager && manager.layers.length && manager.layers.every((l) => l.isLoaded)) {
      drawn[slot] = performance.now();
    }
  }
  function key(values) { return values.join("|"); }
  function show() {
    const values = P.selects.map((id) => pick(id).value);
    const swipe = P.swipe && pick(P.swipe.select).value === P.swipe.value;
    const slot = P.swipe ? P.selects.indexOf(P.swipe.select) : -1;
    let left = P.maps[key(values)];
    let legend = left && left.legend;
    if (swipe) {
      values[slot] = P.swipe.left; left = P.maps[key(values)];
      values[slot] = P.swipe.right; const right = P.maps[key(values)];
      legend = right.legend;  // the same classes, and the scenario's overlays (a flood) too
      draw(1, right);
      pick("map-title").textContent = "Today (left) and with the scenario (right): " + left.title.replace(/^Today: /, "");
    } else {
      pick("map-title").textContent = left.title;
    }
    draw(0, left);
    pick("legend").innerHTML = legend;
    if (containers[1]) containers[1].style.display = swipe ? "block" : "none";
    if (pick("swipe-bar")) pick("swipe-bar").style.display = swipe ? "block" : "none";
    if (swipe) cut();
  }
  function cut() {
    const share = Number(pick("swipe").value);
    containers[1].style.clipPath = "inset(0 0 0 " + share + "%)";
    pick("swipe-line").style.left = share + "%";
  }
  function refill() {
    // A select whose choices depend on another (the thresholds of the chosen indicator).
    const d = P.dependent;
    if (!d) return;
    const target = pick(d.select), current = target.value, options = d.options[pick(d.on).value];
    target.innerHTML = "";
    options.forEach((option) => {
      const element = document.createElement("option");
      element.value = option[0]; element.textContent = option[1]; target.appendChild(element);
    });
    target.value = options.some((option) => option[0] === current) ? current : options[options.length - 1][0];
  }
  P.selects.forEach((id) => pick(id).addEventListener("change", () => {
    if (P.dependent && id === P.dependent.on) refill();
    show();
  }));
  refill();
  if (pick("swipe")) pick("swipe").addEventListener("input", cut);
  // The pictures (base map, flood) decoded before the first draw, as deck.gl decodes them: the map is drawn once
  // with all its layers, not again as each picture arrives (a frame is slow in a software renderer).
  const pictures = P.base.concat(Object.values(P.overlays)).filter((spec) => spec.type === "BitmapLayer");
  Promise.all(pictures.map((spec) => {
    const [head, body] = spec.props.image.split(","), raw = atob(body), bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return createImageBitmap(new Blob([bytes], {type: head.slice(5, head.indexOf(";"))}), {premultiplyAlpha: "none"})
      .then((image) => { spec.props = Object.assign({}, spec.props, {image: image}); }, () => {});
  })).then(show);
  // For tests: the decks, when the script started and each map was drawn, the figures' formats, a zone's tooltip.
  window.sandboxMaps = {decks: decks, started: started, drawn: drawn, formats: FORMATS,
                        tip: (slot, i) => zoneTip(shown[slot], i)};
})();
