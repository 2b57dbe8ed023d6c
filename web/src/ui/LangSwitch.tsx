import { lang, setLang, t } from "../i18n/i18n";
import { useLang } from "./hooks";

/** A button that flips between Vietnamese and English. */
export function LangSwitch() {
    useLang();
    return (
        <button
            type="button"
            class="secondary"
            lang={lang() === "vi" ? "en" : "vi"}
            onClick={() => { setLang(lang() === "vi" ? "en" : "vi"); }}
        >
            {t("lang.switch")}
        </button>
    );
}
