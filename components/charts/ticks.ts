/**
 * Time-axis ticks on round local times (every 10 min, every 3 h, every
 * midnight, …), about `target` of them across the range.
 */
const MINUTE = 60_000;
const DAY = 86_400_000;
const STEPS_MINUTES = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720];
const STEPS_DAYS = [1, 2, 3, 7, 14];

export function timeTicks(from: number, to: number, target = 6): number[] {
  const span = to - from;
  if (span <= 0) return [from];
  const ideal = span / target;
  const stepMinutes = STEPS_MINUTES.find((m) => m * MINUTE >= ideal);
  const ticks: number[] = [];
  if (stepMinutes !== undefined) {
    const start = new Date(from);
    start.setSeconds(0, 0);
    if (start.getTime() < from) start.setMinutes(start.getMinutes() + 1);
    // Walk to the first minute that is a multiple of the step in local time (at most a day of minutes).
    for (let i = 0; i < 1_440 && (start.getHours() * 60 + start.getMinutes()) % stepMinutes !== 0; i++) start.setMinutes(start.getMinutes() + 1);
    for (let t = start.getTime(); t <= to; t += stepMinutes * MINUTE) ticks.push(t);
    return ticks;
  }
  const stepDays = STEPS_DAYS.find((d) => d * DAY >= ideal) ?? 30;
  const day = new Date(from);
  day.setHours(0, 0, 0, 0);
  if (day.getTime() < from) day.setDate(day.getDate() + 1);
  for (; day.getTime() <= to; day.setDate(day.getDate() + stepDays)) ticks.push(day.getTime());
  return ticks;
}
