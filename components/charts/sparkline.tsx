"use client";
/**
 * A tiny trend line: no axes, no tooltip, no animation. The numbers it
 * draws are said in words beside it by the caller (the picture is
 * decorative for screen readers).
 */
import { Area, AreaChart, YAxis } from "recharts";

export function Sparkline({
  values,
  width = 140,
  height = 40,
  color = "--chart-spark",
}: {
  values: readonly number[];
  width?: number;
  height?: number;
  color?: `--${string}`;
}) {
  const data = values.map((value, index) => ({ index, value }));
  return (
    <div className="spark-chart" style={{ width, height }} aria-hidden="true">
      <AreaChart data={data} width={width} height={height} margin={{ top: 2, right: 0, bottom: 0, left: 0 }} accessibilityLayer={false}>
        <YAxis hide domain={[0, (max: number) => Math.max(1, max)]} />
        <Area
          dataKey="value"
          type="linear"
          stroke={`var(${color})`}
          fill={`var(${color})`}
          fillOpacity={0.2}
          strokeWidth={1.5}
          isAnimationActive={false}
          dot={false}
          activeDot={false}
        />
      </AreaChart>
    </div>
  );
}
