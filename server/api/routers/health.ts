import { checkHealth } from "../../health.ts";
import { publicProcedure, router } from "../trpc.ts";

export const healthRouter = router({
  check: publicProcedure.query(() => checkHealth()),
});
