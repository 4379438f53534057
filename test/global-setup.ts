/** Vitest global set-up: heavy fixtures are built once per run by scripts/setup.sh, not here. */
export default function setup(): void {}
