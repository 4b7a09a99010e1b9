/**
 * The parts of src/core that users of the client need (the CLI and the web UI
 * may import only from src/client): the error registry with exit codes, state
 * names and their short forms, VM and host actions, permissions formatting and
 * the template language's parser and serializers.
 */
export { ERRORS, type ErrorCode, type ErrorDetails, isErrorCode } from '../core/errors.js';
export {
  HOST_OPERATOR_ACTIONS,
  HOST_STATE_LIST,
  HOST_STATES,
  type HostOperatorAction,
  type HostState,
  isHostState,
  shortHostStateName,
} from '../core/host-states.js';
export {
  type DatastoreBody,
  type HostBody,
  IMAGE_STATES,
  IMAGE_TYPES,
  type ImageBody,
  OBJECT_KINDS,
  type ObjectKind,
  type UserBody,
  type VmBody,
  type VmHistoryRecord,
  type VnetBody,
} from '../core/model.js';
export { formatLetters, parsePermissions } from '../core/permissions.js';
export {
  REPEAT_NAMES,
  SCHEDULABLE_ACTIONS,
  type SchedAction,
  type SchedActionInput,
} from '../core/sched-actions.js';
export { detectFormat, parseTemplate, serializeTemplate } from '../core/template/format.js';
export type {
  ParsedTemplate,
  Template,
  TemplateFormat,
  TemplateValue,
  TemplateVector,
} from '../core/template/types.js';
export {
  checkUserInputValue,
  readUserInputs,
  USER_INPUT_TYPES,
  type UserInputDescriptor,
  type UserInputType,
} from '../core/template/user-input-definitions.js';
export { VM_ACTION_LIST, VM_ACTIONS, type VmAction } from '../core/vm-state-machine.js';
export {
  isLcmState,
  isVmState,
  LCM_STATE_LIST,
  LCM_STATES,
  type LcmState,
  shortStateName,
  VM_STATE_LIST,
  VM_STATES,
  type VmState,
} from '../core/vm-states.js';
