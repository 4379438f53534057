// Small DOM helpers: elements built without HTML strings (no injection), and keyed updates that touch only
// what changed, so a status refresh of 1,500 packages rewrites a handful of nodes.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An element with attributes (`text` sets its text, `on` maps event names to listeners) and children. */
export function h(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

export function s(tag, attributes = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') element.textContent = String(value);
    else if (name === 'on') for (const [event, listener] of Object.entries(value)) element.addEventListener(event, listener);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined && child !== null) element.append(child);
  return element;
}

export function setText(element, text) {
  const value = String(text);
  if (element.textContent !== value) element.textContent = value;
}

/** Sets (or, for undefined/null/false, removes) an attribute, only when it changes. */
export function setAttr(element, name, value) {
  if (value === undefined || value === null || value === false) {
    if (element.hasAttribute(name)) element.removeAttribute(name);
    return;
  }
  const text = value === true ? '' : String(value);
  if (element.getAttribute(name) !== text) element.setAttribute(name, text);
}

export function setHidden(element, hidden) {
  if (element.hidden !== hidden) element.hidden = hidden;
}

const keyed = new WeakMap();

/**
 * Makes `container`'s children one element per item, in order: an item's element is made once (`create`),
 * then only `update`d; elements of items gone are removed. The container holds nothing else.
 */
export function reconcile(container, items, keyOf, create, update) {
  const previous = keyed.get(container) ?? new Map();
  const next = new Map();
  let position = container.firstElementChild;
  for (const item of items) {
    const key = keyOf(item);
    let element = previous.get(key);
    if (element === undefined || next.has(key)) element = create(item);
    update(element, item);
    next.set(key, element);
    if (element === position) position = position.nextElementSibling;
    else container.insertBefore(element, position);
  }
  for (const [key, element] of previous) if (next.get(key) !== element) element.remove();
  keyed.set(container, next);
}
