export { jsonText, roundNoise, roundNoiseDown } from '../report/json.js';
