/**
 * The snippets every security suite shares: ordinary code that must be accepted and must work,
 * and attacks with the verdict each must get. Ids are stable (`js-benign-...`, `js-attack-...`,
 * `py-benign-...`).
 */

/** Ordinary JavaScript Code-node snippets, with the input each runs over and its expected result. */
export { benignJavaScript } from "./jsBenign.js"
export type { JsBenign, JsItem } from "./jsBenign.js"

/** JavaScript attacks with their expected static verdict. */
export { attackJavaScript } from "./jsAttacks.js"
export type { Attack, Expected } from "./jsAttacks.js"

/** Ordinary Python Code-node snippets. */
export { benignPython } from "./pyBenign.js"

/** Python attacks with their expected static verdict and what contains them at run time. */
export { attackPython } from "./pyAttacks.js"
export type { PythonAttack } from "./pyAttacks.js"
