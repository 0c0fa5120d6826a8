import { publicProcedure, router } from "../trpc.ts";

export const authRouter = router({
  /** The signed-in user, or null. Signing in and out are route handlers (they set the cookie). */
  me: publicProcedure.query(({ ctx }) => ctx.user),
});
