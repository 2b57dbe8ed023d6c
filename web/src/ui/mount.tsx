import { render, type ComponentChild } from "preact";
import { lang } from "../i18n/i18n";
import "./base.css";

/** Render a view into #app, in the page's language. */
export function mount(view: ComponentChild, title: string): void {
    document.documentElement.lang = lang();
    document.title = title;
    const root = document.getElementById("app");
    if (root) render(view, root);
}
