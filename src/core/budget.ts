/**
 * A budget as p-timeout's `milliseconds`: p-timeout throws at once on 0, a negative number or NaN, while the
 * work it guards is already running beside it; such a budget is spent at once instead.
 */
export function spendableMs(budgetMs: number): number {
  return Number.isNaN(budgetMs) || budgetMs <= 0 ? 1 : budgetMs;
}
