/**
 * @module
 * Where tus-js-client keeps what it needs to resume an upload (the upload URL and the file's name,
 * type and hash, under a fingerprint of its name, size and date): sessionStorage, as the token is.
 * Its default, localStorage, kept a patient's file name and scan hash on the device after the tab
 * closed, where anyone using that browser later could read them; and a resume from there could not
 * authenticate anyway, since the token dies with the tab. A reload of the tab still resumes.
 */
import { defaultOptions, type PreviousUpload } from 'tus-js-client';

type UrlStorage = (typeof defaultOptions)['urlStorage'];

// tus-js-client's own key scheme, `tus::<fingerprint>::<id>`.
const PREFIX = 'tus::';

function entries(prefix: string): PreviousUpload[] {
  const found: PreviousUpload[] = [];
  for (let i = 0; i < sessionStorage.length; i++) {
    const key = sessionStorage.key(i);
    if (key === null || !key.startsWith(prefix)) continue;
    try {
      found.push({ ...(JSON.parse(sessionStorage.getItem(key)!) as PreviousUpload), urlStorageKey: key });
    } catch {
      // A damaged entry must not stop an upload; it is simply not resumed.
    }
  }
  return found;
}

export const sessionUrlStorage: UrlStorage = {
  findAllUploads: async () => entries(PREFIX),
  findUploadsByFingerprint: async (fingerprint) => entries(`${PREFIX}${fingerprint}::`),
  removeUpload: async (key) => sessionStorage.removeItem(key),
  addUpload: async (fingerprint, upload) => {
    const key = `${PREFIX}${fingerprint}::${crypto.randomUUID()}`;
    sessionStorage.setItem(key, JSON.stringify(upload));
    return key;
  },
};
