/**
 * The Argo Rollouts v1alpha1 structs that Argo's validation passes whole as a
 * field error's bad value, with their json tags (pkg/apis/rollouts/v1alpha1/types.go
 * of v1.10.2), in the format of podtemplate-fields.gen.ts: Go declaration
 * order, [json name, omitempty, type]. apimachinery's field.Error prints such
 * a value as its json.Marshal (src/api/gojson.ts encodes it from this table).
 */
import type { GoFieldSpec } from './podtemplate-fields.gen.ts';

export const ARGO_STRUCTS: Readonly<Record<string, readonly GoFieldSpec[]>> = {
  'v1alpha1.SetHeaderRoute': [
    ['name', true, 'string'],
    ['match', true, 'slice:struct:v1alpha1.HeaderRoutingMatch'],
  ],
  'v1alpha1.HeaderRoutingMatch': [
    ['headerName', false, 'string'],
    // a pointer without omitempty: null when absent
    ['headerValue', false, 'ptr:struct:v1alpha1.StringMatch'],
  ],
  'v1alpha1.StringMatch': [
    ['exact', true, 'string'],
    ['prefix', true, 'string'],
    ['regex', true, 'string'],
  ],
  'v1alpha1.SetMirrorRoute': [
    ['name', false, 'string'],
    ['match', true, 'slice:struct:v1alpha1.RouteMatch'],
    ['percentage', true, 'ptr:int'],
  ],
  'v1alpha1.RouteMatch': [
    ['method', true, 'ptr:struct:v1alpha1.StringMatch'],
    ['path', true, 'ptr:struct:v1alpha1.StringMatch'],
    ['headers', true, 'map:struct:v1alpha1.StringMatch'],
  ],
};
