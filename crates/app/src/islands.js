(bundles) => {
  const pkg = "/pkg/";
  const done = (failed) => {
    window.__cairnHydratedAt = performance.now();
    document.documentElement.dataset[failed ? "hydrationFailed" : "hydrated"] = "";
  };
  const onPage = new Set([...document.querySelectorAll("leptos-island")].map((el) => el.dataset.component));
  if (!onPage.size) return done(false);
  const holds = (bundle, name) => bundle.islands.includes(name);
  // The bundle the page named (preloaded from the head), then, for islands it lacks, the smallest
  // bundle holding them all or, failing one, the bundles holding most of them, greedily.
  const preloaded = new Set([...document.querySelectorAll("link[rel=modulepreload]")].map((l) => new URL(l.href).pathname));
  const chosen = bundles.filter((b) => preloaded.has(pkg + b.js));
  const left = new Set([...onPage].filter((n) => !chosen.some((b) => holds(b, n))));
  const whole = bundles.filter((b) => [...left].every((n) => holds(b, n))).sort((a, b) => a.bytes - b.bytes)[0];
  if (left.size && whole) chosen.push(whole);
  while (left.size && !whole) {
    const score = (b) => [...left].filter((n) => holds(b, n)).length;
    const best = bundles.reduce((a, b) => (score(b) > score(a) || (score(b) === score(a) && b.bytes < a.bytes) ? b : a));
    if (!score(best)) break;
    chosen.push(best);
    for (const n of best.islands) left.delete(n);
  }
  const started = chosen.map((bundle) => {
    const wasm = fetch(pkg + bundle.wasm);
    return import(pkg + bundle.js).then(async (mod) => {
      await mod.default({ module_or_path: wasm });
      mod.hydrate();
      return mod;
    });
  });
  Promise.all(started)
    .then(async (modules) => {
      // Islands inside an island's children hydrate after it, once it has handed them over.
      const handOvers = [];
      const visit = async (el) => {
        const tag = el.tagName;
        if (tag === "LEPTOS-ISLAND") {
          const name = el.dataset.component;
          const mod = modules.find((m) => typeof m[name] === "function");
          if (mod) {
            const handOver = handOvers[handOvers.length - 1];
            if (handOver) handOver();
            await mod[name](el);
          } else {
            console.warn(`no bundle hydrates the island ${name}`);
          }
        }
        if (tag === "LEPTOS-CHILDREN") handOvers.push(el.$$on_hydrate);
        for (const child of el.children) await visit(child);
        if (tag === "LEPTOS-CHILDREN") handOvers.pop();
      };
      await visit(document.body);
      done(false);
    })
    .catch((error) => {
      console.error("the page's code did not load", error);
      done(true);
    });
}
