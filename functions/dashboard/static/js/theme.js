// Light/dark theme: the user's choice (localStorage) or else the system's (prefers-color-scheme).

const STORAGE = "ha-ingestor.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");

export function theme() {
  return document.documentElement.dataset.theme || "light";
}

function apply(value) {
  document.documentElement.dataset.theme = value;
}

export function initTheme(onChange) {
  apply(localStorage.getItem(STORAGE) || (media.matches ? "dark" : "light"));
  media.addEventListener("change", () => {
    if (!localStorage.getItem(STORAGE)) {
      apply(media.matches ? "dark" : "light");
      onChange();
    }
  });
  return () => {
    const next = theme() === "dark" ? "light" : "dark";
    localStorage.setItem(STORAGE, next);
    apply(next);
    onChange();
  };
}
