import { ApiError, errorBody } from "../../errors";

/** RFC 7644 3.12: the schema of an error response. */
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
export const SCIM_JSON = "application/scim+json";

/** A SCIM error: its status, `scimType` (RFC 7644 3.12) and our error code. */
export class ScimError extends ApiError {
  constructor(
    code: ConstructorParameters<typeof ApiError>[0],
    message: string,
    readonly scimType?: string,
  ) {
    super(code, message);
  }
}

/**
 * SCIM clients read RFC 7644 3.12 errors (`application/scim+json`, `status` as a string); the body also
 * carries our envelope, so every error of the service has the same `error.code` / `error.requestId`.
 */
export function scimErrorResponse(err: ApiError, requestId: string): Response {
  const body = {
    schemas: [ERROR_SCHEMA],
    status: String(err.status),
    detail: err.message,
    ...(err instanceof ScimError && err.scimType ? { scimType: err.scimType } : {}),
    ...errorBody(err.code, err.message, requestId, err.details),
  };
  return new Response(JSON.stringify(body), {
    status: err.status,
    headers: { "content-type": SCIM_JSON, "x-request-id": requestId },
  });
}
