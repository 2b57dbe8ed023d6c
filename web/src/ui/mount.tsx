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

/** `window.meetingd.screen`: what the end-to-end tests and a curious operator read
 * (`screen.media.pc.getStats()`, `screen.live.seq`); the views never use it. */
export function exposeForTests(screen: unknown, more: Record<string, unknown> = {}): void {
    (window as unknown as { meetingd: Record<string, unknown> }).meetingd = { screen, ...more };
}
