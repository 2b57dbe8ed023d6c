// The landing page: which screen to open.
import { t } from "../../i18n/i18n";
import type { MessageKey } from "../../i18n/catalog";
import { LangSwitch } from "../../ui/LangSwitch";
import { useLang } from "../../ui/hooks";
import { mount } from "../../ui/mount";

const VIEWS: readonly [string, MessageKey, MessageKey][] = [
    ["/chu-tri", "view.chair", "view.chair.about"],
    ["/diem-cau", "view.bridge", "view.bridge.about"],
    ["/dai-bieu", "view.delegate", "view.delegate.about"],
    ["/ky-thuat", "view.operator", "view.operator.about"],
];

function Home() {
    useLang();
    document.title = t("app.title");
    return (
        <>
            <header class="bar">
                <h1>{t("app.title")}</h1>
                <LangSwitch />
            </header>
            <main class="login">
                <h2>{t("app.views")}</h2>
                <ul class="plain" style="display:grid;gap:.8em">
                    {VIEWS.map(([href, name, about]) => (
                        <li key={href} class="panel">
                            <a href={href} style="font-size:1.3em;font-weight:bold">{t(name)}</a>
                            <p class="muted" style="margin:.3em 0 0">{t(about)}</p>
                        </li>
                    ))}
                </ul>
            </main>
        </>
    );
}

mount(<Home />, t("app.title"));
