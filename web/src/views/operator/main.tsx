import { t } from "../../i18n/i18n";
import { mount } from "../../ui/mount";

mount(<p>{t("meeting.loading")}</p>, t("app.title"));
