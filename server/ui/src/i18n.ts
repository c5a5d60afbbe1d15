// i18next with the two catalogues bundled (no fetch): the browser's language picks zh-CN or English; the
// operator's choice is remembered (a preference, not a secret).
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { en } from './locales/en.js';
import { zhCN } from './locales/zh-CN.js';

export const LANGUAGES = [{ code: 'en', label: 'English' }, { code: 'zh-CN', label: '简体中文' }] as const;
const KEY = 'gitfleet.lang';

export function initialLanguage(stored: string | null, browser: readonly string[]): 'en' | 'zh-CN' {
  if (stored === 'en' || stored === 'zh-CN') return stored;
  for (const l of browser) {
    if (/^zh\b/i.test(l)) return 'zh-CN';
    if (/^en\b/i.test(l)) return 'en';
  }
  return 'en';
}

export function setupI18n(): typeof i18n {
  let stored: string | null = null;
  try { stored = localStorage.getItem(KEY); } catch { /* private mode */ }
  void i18n.use(initReactI18next).init({
    resources: { en: { translation: en }, 'zh-CN': { translation: zhCN } },
    lng: initialLanguage(stored, navigator.languages ?? [navigator.language]),
    fallbackLng: false,
    interpolation: { escapeValue: false }, // React escapes
    returnNull: false,
  });
  i18n.on('languageChanged', (l) => {
    document.documentElement.lang = l;
    try { localStorage.setItem(KEY, l); } catch { /* private mode */ }
  });
  document.documentElement.lang = i18n.language;
  return i18n;
}
