import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

/** The axe-core build injected into pages (the npm package's own file, no network). */
export const AXE_SCRIPT_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** The WCAG 2.0 and 2.1 level A and AA rules: what "passes axe" means for issue 21. */
export const WCAG_21_AA_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] as const;

/**
 * Runs axe-core on the page as it is now and returns every violation as one readable line per node
 * (rule, impact, selector, summary); an empty list means the page passes.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE_SCRIPT_PATH });
  return page.evaluate(
    async (tags) => {
      type AxeResult = {
        violations: Array<{
          id: string;
          impact: string | null;
          nodes: Array<{ target: unknown[]; failureSummary?: string }>;
        }>;
      };
      const axe = (
        window as unknown as { axe: { run(context: Document, options: object): Promise<AxeResult> } }
      ).axe;
      const result = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
      return result.violations.flatMap((violation) =>
        violation.nodes.map(
          (node) =>
            `${violation.id} (${violation.impact ?? 'unknown'}) at ${node.target.join(' ')}: ${node.failureSummary ?? ''}`,
        ),
      );
    },
    WCAG_21_AA_TAGS as unknown as string[],
  );
}
