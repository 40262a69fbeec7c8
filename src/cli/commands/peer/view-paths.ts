/**
 * Where `peer view` writes what it shows. The real image goes where the user asked, with an
 * extension that matches its bytes (`-o x.jpg` for a PNG becomes `x.png`, and says so); the
 * default image never goes under the real image's name, nor under a non-PNG extension.
 */

/** Extensions the user may give for each type the viewer can show; the first is the usual one. */
const EXTENSIONS: Record<string, readonly string[]> = {
  'image/png': ['png'],
  'image/jpeg': ['jpg', 'jpeg', 'jpe', 'jfif'],
};
/** Image extensions we correct when they name another type (anything else is left as given). */
const IMAGE_EXTENSION = /\.(png|jpe?g|jpe|jfif|gif|webp|bmp|tiff?|avif|heic)$/i;
const ANY_EXTENSION = /\.[^./\\]*$/;

export interface ShownImagePath {
  path: string;
  /** Set when the extension asked for named another image type. */
  corrected?: string;
}

/** Where the shown (real) image of type `mediaType` goes. */
export function shownImagePath(
  asked: string | undefined,
  stem: string,
  mediaType: string,
): ShownImagePath {
  const extensions = EXTENSIONS[mediaType] ?? ['bin'];
  const usual = extensions[0] as string;
  if (asked === undefined) return { path: `${stem}.${usual}` };
  const match = IMAGE_EXTENSION.exec(asked);
  if (!match || extensions.includes((match[1] as string).toLowerCase())) return { path: asked };
  const path = `${asked.slice(0, match.index)}.${usual}`;
  return {
    path,
    corrected: `the image is a ${usual.toUpperCase()}, so it was written to ${path}, not ${asked}`,
  };
}

/**
 * Where the default image goes: never the real image's name, nor a name whose extension says
 * anything but PNG (-o photo.jpg → photo.default.png).
 */
export function defaultImagePath(asked: string | undefined, stem: string): string {
  return `${asked === undefined ? stem : asked.replace(ANY_EXTENSION, '')}.default.png`;
}
