/**
 * The OpenNebula template language: native/YAML/JSON parsing and writing,
 * accessors, `$VARIABLE` substitution, USER_INPUTS and VM template checks.
 * Pure code: no I/O. See docs/templates.md for the user-facing rules.
 */

export {
  addValue,
  cloneTemplate,
  getAll,
  getString,
  getVector,
  getVectors,
  hasAttribute,
  positionOf,
  removeAttribute,
  setValue,
  setVectorValue,
} from './access.js';
export { detectFormat, parseTemplate, serializeTemplate } from './format.js';
export type { TemplateIssue } from './issues.js';
export { parseJson } from './json-parser.js';
export type { MergeOptions } from './merge.js';
export { mergeTemplates } from './merge.js';
export { parseNative } from './native-parser.js';
export { serializeNative } from './native-serializer.js';
export { assertCanonicalTemplate } from './shape.js';
export type { ImageLookup, NetworkLookup, ObjectResolver, SubstitutionContext } from './substitute.js';
export { substitute } from './substitute.js';
export { attributePath } from './template-builder.js';
export type {
  ParsedTemplate,
  PositionMap,
  Template,
  TemplateFormat,
  TemplateValue,
  TemplateVector,
} from './types.js';
export type { UserInputDescriptor, UserInputType } from './user-input-definitions.js';
export {
  checkUserInputValue,
  describeUserInputs,
  readUserInputs,
  USER_INPUT_TYPES,
} from './user-input-definitions.js';
export { applyUserInputs } from './user-inputs.js';
export type { TemplateReference, ValidateOptions } from './validate-vm.js';
export { validateVmTemplate } from './validate-vm.js';
export type { VariableRef } from './variables.js';
export { findVariables, replaceVariables } from './variables.js';
export { parseYaml } from './yaml-parser.js';
