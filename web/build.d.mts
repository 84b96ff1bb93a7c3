/** Builds the auditor page into dist/web/ and returns that folder. */
export function buildWeb(options?: { quiet?: boolean }): Promise<string>;
